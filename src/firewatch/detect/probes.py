"""HTTP health probes: one model service's ``/health`` polled at an interval, with a timeout and
consecutive-failure threshold, raising ``ModelUnavailable`` (SEV1) and clearing it on recovery."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime

import httpx
from prometheus_client import Histogram

from firewatch.alerts.schemas import Alert, AlertStatus
from firewatch.clock import Clock
from firewatch.config import ModelConfig
from firewatch.detect.sink import DetectionSink
from firewatch.detect.trackers import ConsecutiveTracker, Transition
from firewatch.severity import Severity, Signals

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    latency_s: float
    detail: str  # "HTTP 200", "HTTP 503", "timed out after 1s", "connection refused"


async def probe_once(client: httpx.AsyncClient, url: str, timeout: float) -> ProbeResult:
    """GET ``url``; a 2xx within ``timeout`` is healthy."""
    started = time.perf_counter()
    try:
        response = await client.get(url, timeout=timeout)
    except httpx.TimeoutException:
        return ProbeResult(False, time.perf_counter() - started, f"timed out after {timeout:g}s")
    except httpx.HTTPError as exc:
        return ProbeResult(False, time.perf_counter() - started, _describe(exc))
    elapsed = time.perf_counter() - started
    return ProbeResult(200 <= response.status_code < 300, elapsed, f"HTTP {response.status_code}")


def _describe(exc: httpx.HTTPError) -> str:
    """Name the network failure the way an on-call engineer would search for it."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, OSError) and cause.strerror:
            return f"cannot connect: {cause.strerror.lower()}"
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect: {exc}"
    return f"{type(exc).__name__}: {exc}"


class HealthProbe:
    """Probes one model and reports transitions to the sink."""

    def __init__(
        self,
        model: ModelConfig,
        *,
        sink: DetectionSink,
        clock: Clock,
        client: httpx.AsyncClient,
        latency: Histogram | None = None,
    ) -> None:
        if model.health_url is None:
            raise ValueError(f"model {model.name} has no health_url to probe")
        self.model = model
        self.url = str(model.health_url)
        self.sink = sink
        self.clock = clock
        self.client = client
        self.latency = latency
        self.tracker = ConsecutiveTracker(
            model.probe.failure_threshold, model.probe.recovery_threshold
        )
        self.last: ProbeResult | None = None
        self._firing: Alert | None = None

    async def check(self) -> ProbeResult:
        """One probe; fires or clears the alert when a threshold is crossed."""
        result = await probe_once(self.client, self.url, self.model.probe.timeout.total_seconds())
        self.last = result
        if self.latency is not None:
            self.latency.labels(model=self.model.name).observe(result.latency_s)
        now = self.clock.now()
        transition = self.tracker.observe(result.ok)
        if transition is Transition.FIRE:
            await self._fire(result, now)
        elif transition is Transition.CLEAR:
            await self._clear(now)
        if result.ok and not self.tracker.firing:
            await self.sink.health(self.model.name, True, now)
        return result

    async def _fire(self, result: ProbeResult, now: datetime) -> None:
        version = await self.sink.current_version(self.model.name)
        labels = {
            **self.model.labels,
            "alertname": "ModelUnavailable",
            "model": self.model.name,
            "severity": Severity.SEV1.value,
            "source": "probe",
        }
        if version:
            labels["version"] = version
        failures = self.tracker.failures
        alert = Alert(
            labels=labels,
            annotations={
                "summary": f"Model {self.model.name} unavailable: health check failing",
                "description": (
                    f"{failures} consecutive health probes of {self.url} failed "
                    f"(last: {result.detail})."
                ),
                "runbook": self.model.runbook or "",
            },
            starts_at=now,
            signals=Signals(available=False),
        )
        self._firing = alert
        log.warning("%s: %s", self.model.name, alert.annotations["description"])
        await self.sink.health(self.model.name, False, now)
        await self.sink.alerts([alert])

    async def _clear(self, now: datetime) -> None:
        if self._firing is None:
            return
        resolved = replace(self._firing, status=AlertStatus.RESOLVED, ends_at=now)
        self._firing = None
        log.info("%s: health check recovered", self.model.name)
        await self.sink.alerts([resolved])
