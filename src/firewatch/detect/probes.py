"""HTTP health probes of model services in their servers' conventions (``/health``, ``/healthz``,
Open Inference Protocol, KServe v1, TorchServe, BentoML): interval, timeout, consecutive-failure
threshold and backoff on a dead target; raises ``ModelUnavailable`` (SEV1), clears on recovery."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

import httpx
from prometheus_client import Histogram

from firewatch.alerts.schemas import Alert, AlertStatus
from firewatch.clock import Clock
from firewatch.config import HealthCheck, ModelConfig
from firewatch.detect.rule_config import Signal
from firewatch.detect.signals import Sample, SignalStore
from firewatch.detect.sink import DetectionSink
from firewatch.detect.trackers import ConsecutiveTracker, Transition
from firewatch.severity import Severity, Signals

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    latency_s: float
    detail: str  # "HTTP 200", "HTTP 503", "timed out after 1s", "connection refused", ...
    reachable: bool = True  # False when nothing answered at all (refused, timed out)
    version: str | None = None  # what a JSON body's "version" says is served, if it says


async def probe_once(
    client: httpx.AsyncClient, url: str, timeout: float, check: HealthCheck = HealthCheck.HEALTH
) -> ProbeResult:
    """GET ``url``; healthy is a 2xx within ``timeout`` whose body (for the conventions that put
    readiness in the body: KServe v1 ``"ready": true``, TorchServe ``"status": "Healthy"``) agrees."""
    started = time.perf_counter()
    try:
        response = await client.get(url, timeout=timeout)
    except httpx.TimeoutException:
        return ProbeResult(
            False, time.perf_counter() - started, f"timed out after {timeout:g}s", False
        )
    except httpx.HTTPError as exc:
        return ProbeResult(False, time.perf_counter() - started, _describe(exc), False)
    elapsed = time.perf_counter() - started
    detail = f"HTTP {response.status_code}"
    if not 200 <= response.status_code < 300:
        return ProbeResult(False, elapsed, detail)
    problem = _body_problem(response, check)
    detail = f"{detail}, {problem}" if problem else detail
    return ProbeResult(problem is None, elapsed, detail, version=_served_version(response))


def _served_version(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    version = body.get("version") if isinstance(body, dict) else None
    return version if isinstance(version, str) and version else None


def _body_problem(response: httpx.Response, check: HealthCheck) -> str | None:
    if check not in (HealthCheck.KSERVE_V1, HealthCheck.TORCHSERVE):
        return None
    try:
        body = response.json()
    except ValueError:
        return "body is not JSON"
    if not isinstance(body, dict):
        return "body is not a JSON object"
    if check is HealthCheck.KSERVE_V1:
        return None if body.get("ready") is True else f"ready is {body.get('ready')!r}"
    status = str(body.get("status", ""))
    return None if status.lower() == "healthy" else f"status is {status!r}"


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


class EndpointSource(Protocol):
    """Where a model with several regional endpoints is served now (the registry's active
    region); see `firewatch.registry.regions.ActiveEndpoints`."""

    async def probe_url(self, model: ModelConfig) -> str | None:
        """The health URL of ``model``'s active endpoint."""
        ...


class HealthProbe:
    """Probes one model and reports transitions to the sink; with ``endpoints``, a model with
    regional endpoints is probed where it is served now (it follows a failover)."""

    def __init__(
        self,
        model: ModelConfig,
        *,
        sink: DetectionSink,
        clock: Clock,
        client: httpx.AsyncClient,
        latency: Histogram | None = None,
        store: SignalStore | None = None,
        endpoints: EndpointSource | None = None,
    ) -> None:
        url = model.probe_url()
        if url is None:
            raise ValueError(f"model {model.name} has no health_url or url to probe")
        self.model = model
        self.url = url
        self.sink = sink
        self.clock = clock
        self.client = client
        self.latency = latency
        self.store = store
        self.endpoints = endpoints if model.endpoints else None
        self.tracker = ConsecutiveTracker(
            model.probe.failure_threshold, model.probe.recovery_threshold
        )
        self.last: ProbeResult | None = None
        self._firing: Alert | None = None
        self._failing_since: datetime | None = None  # the first failure of the current streak

    async def check(self) -> ProbeResult:
        """One probe; fires or clears the alert when a threshold is crossed."""
        timeout = self.model.probe.timeout.total_seconds()
        if self.endpoints is not None:
            await self._follow_active_endpoint(self.endpoints)
        started = self.clock.now()
        result = await probe_once(self.client, self.url, timeout, self.model.health_check)
        self.last = result
        now = self.clock.now()
        if result.ok:
            self._failing_since = None
        elif self._failing_since is None:
            self._failing_since = started
        if self.latency is not None:
            self.latency.labels(model=self.model.name).observe(result.latency_s)
        if self.store is not None and result.reachable:
            sample = Sample(now, result.latency_s)
            self.store.record(self.model.name, Signal.PROBE_LATENCY_S.value, sample)
        transition = self.tracker.observe(result.ok)
        if transition is Transition.FIRE:
            await self._fire(result, now)
        elif transition is Transition.CLEAR:
            await self._clear(now)
        if result.ok and not self.tracker.firing:
            await self.sink.health(self.model.name, True, started, result.version)
        return result

    async def _follow_active_endpoint(self, endpoints: EndpointSource) -> None:
        url = await endpoints.probe_url(self.model)
        if url is not None and url != self.url:
            log.info("%s: now probing %s (the active endpoint moved)", self.model.name, url)
            self.url = url

    def next_delay(self) -> float:
        """The probe interval; while the target does not answer at all and the alert is firing,
        it doubles after every miss, up to ``max_backoff`` (no point hammering a dead host)."""
        interval = self.model.probe.interval.total_seconds()
        if self.last is None or self.last.reachable or not self.tracker.firing:
            return interval
        misses = self.tracker.failures - self.model.probe.failure_threshold
        ceiling = max(interval, self.model.probe.max_backoff.total_seconds())
        return float(min(ceiling, interval * 2 ** max(0, misses)))

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
        await self.sink.health(self.model.name, False, self._failing_since or now, result.version)
        await self.sink.alerts([alert])

    async def _clear(self, now: datetime) -> None:
        if self._firing is None:
            return
        resolved = replace(self._firing, status=AlertStatus.RESOLVED, ends_at=now)
        self._firing = None
        log.info("%s: health check recovered", self.model.name)
        await self.sink.alerts([resolved])
