"""The error-rate detector: scrapes a model service's Prometheus ``/metrics``, computes the share
of failed requests over a window from two counters, and raises ``HighErrorRate`` above the
threshold (the seed's "error rate > 5%" alert, HIGH; the classifier raises it with the rate)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

import httpx
from prometheus_client.parser import text_string_to_metric_families

from firewatch.alerts.schemas import Alert, AlertStatus
from firewatch.clock import Clock
from firewatch.config import ModelConfig
from firewatch.detect.sink import DetectionSink
from firewatch.detect.trackers import CounterWindow, Rate, ThresholdTracker, Transition
from firewatch.severity import Signals

log = logging.getLogger(__name__)


class ScrapeError(Exception):
    """The metrics endpoint could not be read or parsed."""


@dataclass(frozen=True)
class CounterTotals:
    requests: float
    errors: float


def sum_counters(text: str, *, requests: str, errors: str, model: str) -> CounterTotals:
    """Sum the two counters over all series (of this model, when series carry a model label)."""
    totals = {requests: 0.0, errors: 0.0}
    found = set()
    try:
        families = list(text_string_to_metric_families(text))
    except ValueError as exc:
        raise ScrapeError(f"not Prometheus text format: {exc}") from None
    for family in families:
        for sample in family.samples:
            if sample.name not in totals:
                continue
            series_model = sample.labels.get("model", sample.labels.get("model_name"))
            if series_model is not None and series_model != model:
                continue
            totals[sample.name] += float(sample.value)
            found.add(sample.name)
    if requests not in found:
        raise ScrapeError(f"metric {requests!r} not found")
    return CounterTotals(totals[requests], totals[errors])


class ErrorRateDetector:
    """Scrapes one model's metrics and reports ``HighErrorRate`` transitions to the sink."""

    def __init__(
        self, model: ModelConfig, *, sink: DetectionSink, clock: Clock, client: httpx.AsyncClient
    ) -> None:
        if model.metrics_url is None:
            raise ValueError(f"model {model.name} has no metrics_url to scrape")
        self.model = model
        self.config = model.error_rate
        self.url = str(model.metrics_url)
        self.sink = sink
        self.clock = clock
        self.client = client
        self.window = CounterWindow(self.config.window)
        self.tracker = ThresholdTracker(self.config.threshold, self.config.min_requests)
        self.last_rate: Rate | None = None
        self._firing: Alert | None = None

    async def check(self) -> Rate | None:
        """One scrape; fires or clears the alert when the rate crosses the threshold."""
        try:
            response = await self.client.get(self.url, timeout=5.0)
            response.raise_for_status()
            totals = sum_counters(
                response.text,
                requests=self.config.requests_metric,
                errors=self.config.errors_metric,
                model=self.model.name,
            )
        except (httpx.HTTPError, ScrapeError) as exc:
            # An unreachable service is the health probe's business; the rate is simply unknown.
            log.debug("%s: scrape of %s failed: %s", self.model.name, self.url, exc)
            return None
        now = self.clock.now()
        self.window.add(now, totals.requests, totals.errors)
        rate = self.window.rate()
        self.last_rate = rate
        transition = self.tracker.observe(rate)
        if transition is Transition.FIRE and rate is not None:
            await self._fire(rate, now)
        elif transition is Transition.CLEAR:
            await self._clear(now)
        return rate

    async def _fire(self, rate: Rate, now: datetime) -> None:
        version = await self.sink.current_version(self.model.name)
        labels = {
            **self.model.labels,
            "alertname": "HighErrorRate",
            "model": self.model.name,
            "severity": self.config.severity.value,
            "source": "metrics",
        }
        if version:
            labels["version"] = version
        pct = rate.ratio * 100
        alert = Alert(
            labels=labels,
            annotations={
                "summary": f"Model {self.model.name} error rate {pct:.1f}%",
                "description": (
                    f"{rate.errors:g} of {rate.requests:g} requests failed over the last "
                    f"{self.config.window} (threshold {self.config.threshold * 100:g}%)."
                ),
            },
            starts_at=now,
            signals=Signals(failure_rate=min(1.0, rate.ratio)),
        )
        self._firing = alert
        await self.sink.alerts([alert])

    async def _clear(self, now: datetime) -> None:
        if self._firing is None:
            return
        resolved = replace(self._firing, status=AlertStatus.RESOLVED, ends_at=now)
        self._firing = None
        await self.sink.alerts([resolved])
