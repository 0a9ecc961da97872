"""Firewatch's own convention, as the demo model exposes it: ``model_requests_total``,
``model_request_errors_total`` (5xx answers) and the ``model_request_duration_seconds`` histogram,
labelled ``model`` and ``version``.

``CounterPairMapping`` also serves any service with a requests counter, an errors counter and an
optional duration histogram in seconds (the error-rate detector's ``requests_metric`` and
``errors_metric`` settings).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet

from prometheus_client.metrics_core import Metric

from firewatch.detect.servers.base import (
    ServerTotals,
    Tally,
    counter,
    declared,
    label,
    mine,
    process_usage,
    select,
    value,
)

MODEL_LABELS = ("model", "model_name")
VERSION_LABELS = ("version", "model_version")


class CounterPairMapping:
    """Requests and errors from two counters, latency from a histogram (or summary) in seconds."""

    def __init__(
        self,
        name: str = "firewatch",
        *,
        requests: str = "model_requests_total",
        errors: str = "model_request_errors_total",
        duration: str | None = "model_request_duration_seconds",
        model_labels: Sequence[str] = MODEL_LABELS,
        version_labels: Sequence[str] = VERSION_LABELS,
    ) -> None:
        self.name = name
        self.requests = requests
        self.errors = errors
        self.duration = duration
        self.model_labels = tuple(model_labels)
        self.version_labels = tuple(version_labels)

    def recognises(self, names: AbstractSet[str]) -> bool:
        return bool(counter(self.requests) & names)

    def totals(self, families: Sequence[Metric], *, model: str) -> ServerTotals:
        tally = Tally()
        names = counter(self.requests)
        for sample in select(
            families, self.requests, names, model=model, model_labels=self.model_labels
        ):
            tally.add(self._version(sample.labels), requests=value(sample))
        # A declared errors counter without a series for this model means no error yet: a client
        # library creates a labelled series on its first increment.
        errors_observed = declared(families, counter(self.errors))
        for sample in mine(families, counter(self.errors), model, self.model_labels):
            tally.add(self._version(sample.labels), errors=value(sample))
        latency = self.duration is not None and declared(
            families, {self.duration, f"{self.duration}_count"}
        )
        if self.duration is not None and latency:
            for sample in mine(families, {f"{self.duration}_sum"}, model, self.model_labels):
                tally.add(self._version(sample.labels), latency_sum=value(sample))
            for sample in mine(families, {f"{self.duration}_count"}, model, self.model_labels):
                tally.add(self._version(sample.labels), latency_count=value(sample))
        memory, cpu = process_usage(families)
        caveats = () if errors_observed else (f"no {self.errors} counter: errors not measured",)
        return tally.build(
            latency=latency,
            errors_observed=errors_observed,
            memory=memory,
            cpu=cpu,
            caveats=caveats,
        )

    def _version(self, labels: Mapping[str, str]) -> str | None:
        return label(labels, self.version_labels)


FIREWATCH = CounterPairMapping()
