"""The demo service's Prometheus metrics, kept in a registry of its own per app."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import Metric

NO_VERSION = "none"
"""The ``version`` label of requests answered before any version is known."""

_LABELS = ("model", "version")
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0)


class DemoMetrics:
    """``model_requests_total``, ``model_request_errors_total``, ``model_request_duration_seconds``
    and ``model_info``, plus the process metrics, on one per-app registry."""

    content_type = CONTENT_TYPE_PLAIN_0_0_4

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        # prometheus_client appends "_total" to counters: these are exposed as model_requests_total
        # and model_request_errors_total.
        self._requests = Counter(
            "model_requests", "Prediction requests received.", _LABELS, registry=self.registry
        )
        self._errors = Counter(
            "model_request_errors",
            "Prediction requests answered with a 5xx status.",
            _LABELS,
            registry=self.registry,
        )
        self._duration = Histogram(
            "model_request_duration_seconds",
            "Time to answer a prediction request.",
            _LABELS,
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self._info = Gauge(
            "model_info", "1 for the model version being served.", _LABELS, registry=self.registry
        )
        self._served: tuple[str, str] | None = None

    def observe_request(self, model: str, version: str, status: int, seconds: float) -> None:
        """Count one /predict request, its duration, and an error if it was answered 5xx."""
        self._requests.labels(model, version).inc()
        self._duration.labels(model, version).observe(seconds)
        if status >= 500:
            self._errors.labels(model, version).inc()

    def set_served(self, model: str, version: str) -> None:
        """Mark ``version`` as served: its ``model_info`` is 1, the previous one is removed."""
        if self._served == (model, version):
            return
        if self._served is not None:
            self._info.remove(*self._served)
        self._info.labels(model, version).set(1)
        self._served = (model, version)
        # Expose zero-valued series at once, so rate() works from the first scrape after a switch.
        self._requests.labels(model, version)
        self._errors.labels(model, version)
        self._duration.labels(model, version)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (without ``*_created`` series)."""
        return bytes(generate_latest(_WithoutCreated(self.registry)))


class _WithoutCreated:
    """A view of a registry without the ``*_created`` timestamps prometheus_client adds.

    They would otherwise be exposed as extra ``model_requests_created``-style gauges; dropping them
    here, rather than with the process-wide ``disable_created_metrics()``, leaves other apps alone.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        for metric in self._registry.collect():
            metric.samples = [s for s in metric.samples if not s.name.endswith("_created")]
            if metric.samples or not metric.name.endswith("_created"):
                yield metric
