"""What every model-server mapping shares: the totals it returns, the mapping protocol, parsing,
and the helpers that pick one model's series out of a scrape and sum them.

Counters are reported raw and cumulative: a non-finite or negative sample counts as 0, and counter
resets are left to ``firewatch.detect.trackers.CounterWindow``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from typing import Protocol

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


class ScrapeError(Exception):
    """A metrics text could not be parsed, or lacks the metrics a mapping needs."""


@dataclass(frozen=True)
class ServerTotals:
    """Cumulative counters read from one scrape, for one model (all versions summed)."""

    requests: float
    """Inference requests (successes + failures)."""
    errors: float
    """Failed inference requests: server-side failures (HTTP 5xx or the gRPC equivalent)."""
    latency_sum_seconds: float | None = None
    """Cumulative time spent serving, in seconds (None if not exposed)."""
    latency_count: float | None = None
    """How many requests ``latency_sum_seconds`` covers."""
    by_version: dict[str, ServerTotals] = field(default_factory=dict)
    """The same per model version when the server labels versions ({} otherwise)."""
    memory_bytes: float | None = None
    """``process_resident_memory_bytes`` of the serving process (a gauge), when exposed."""
    cpu_seconds: float | None = None
    """``process_cpu_seconds_total`` of the serving process (cumulative), when exposed."""
    errors_observed: bool = True
    """False when the server exposes no failure count for this model: ``errors`` is then 0 but
    is *not* a measured 0% error rate."""
    client_errors: float | None = None
    """Requests refused as the client's fault (HTTP 4xx, gRPC client codes, cancellations), kept
    out of ``errors``; None when the server does not tell them apart."""
    caveats: tuple[str, ...] = ()
    """Plain-language limits of these numbers (for logs and alert descriptions)."""

    @property
    def mean_latency_seconds(self) -> float | None:
        """Mean latency over the whole life of the counters (use deltas for a window)."""
        if self.latency_sum_seconds is None or not self.latency_count:
            return None
        return self.latency_sum_seconds / self.latency_count


class MetricsMapping(Protocol):
    """How one model server's metrics become ``ServerTotals``."""

    name: str
    """``firewatch``, ``kserve``, ``triton``, ``seldon``, ``bentoml`` or ``torchserve``."""

    def recognises(self, names: AbstractSet[str]) -> bool:
        """Whether a scrape with these family and sample names comes from this server."""
        ...

    def totals(self, families: Sequence[Metric], *, model: str) -> ServerTotals:
        """One model's totals; raises ``ScrapeError`` when the needed metrics are absent."""
        ...


def parse_metrics(text: str) -> list[Metric]:
    """Parse a Prometheus text exposition; ``ScrapeError`` if it is not one."""
    try:
        return list(text_string_to_metric_families(text))
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise ScrapeError(f"not Prometheus text format: {exc}") from None


def counter(name: str) -> frozenset[str]:
    """The names a counter goes by once parsed, with and without ``_total``.

    prometheus_client's parser appends ``_total`` to the samples of a counter whose TYPE line lacks
    it (Triton's ``nv_inference_request_success`` is read as ``nv_inference_request_success_total``),
    strips it from the family name, and leaves untyped samples as they are.
    """
    base = name.removesuffix("_total")
    return frozenset({base, f"{base}_total"})


def declared(families: Iterable[Metric], names: AbstractSet[str]) -> bool:
    """Whether any family or sample in the scrape goes by one of ``names``."""
    return any(
        family.name in names or any(sample.name in names for sample in family.samples)
        for family in families
    )


def samples(families: Iterable[Metric], names: AbstractSet[str]) -> list[Sample]:
    """Every sample whose name is one of ``names``."""
    return [sample for family in families for sample in family.samples if sample.name in names]


def value(sample: Sample) -> float:
    """A counter sample's value, with NaN, infinities and negatives counted as 0."""
    number = float(sample.value)
    return number if math.isfinite(number) and number > 0 else 0.0


def label(labels: Mapping[str, str], names: Sequence[str]) -> str | None:
    """The value of the first of ``names`` the series carries, if any."""
    for name in names:
        if name in labels:
            return labels[name]
    return None


def of_model(labels: Mapping[str, str], model: str, names: Sequence[str]) -> bool:
    """Whether a series belongs to ``model``; a series with no model label belongs to every model
    (a single-model server)."""
    found = label(labels, names)
    return found is None or found == model


def models_in(found: Iterable[Sample], names: Sequence[str]) -> set[str]:
    """The model label values seen on these series."""
    return {name for sample in found if (name := label(sample.labels, names)) is not None}


def mine(
    families: Iterable[Metric], names: AbstractSet[str], model: str, model_labels: Sequence[str]
) -> list[Sample]:
    """The samples going by ``names`` that belong to ``model`` (possibly none)."""
    return [s for s in samples(families, names) if of_model(s.labels, model, model_labels)]


def select(
    families: Sequence[Metric],
    metric: str,
    names: AbstractSet[str],
    *,
    model: str,
    model_labels: Sequence[str],
) -> list[Sample]:
    """The samples of ``metric`` (going by ``names``) that belong to ``model``.

    ``ScrapeError`` naming the metric when it is absent, or has no series for the model (a wrong
    model name, or no request served yet: most servers create a model's series on first use).
    """
    if not declared(families, names | {metric}):
        raise ScrapeError(f"metric {metric!r} not found")
    found = samples(families, names)
    ours = [sample for sample in found if of_model(sample.labels, model, model_labels)]
    if not ours:
        seen = ", ".join(sorted(models_in(found, model_labels))) or "none"
        raise ScrapeError(f"metric {metric!r} has no series for model {model!r} (models: {seen})")
    return ours


def process_usage(families: Sequence[Metric]) -> tuple[float | None, float | None]:
    """``process_resident_memory_bytes`` and ``process_cpu_seconds_total``, summed over the
    processes exposed (None when absent)."""
    memory = samples(families, {"process_resident_memory_bytes"})
    cpu = samples(families, counter("process_cpu_seconds_total"))
    return (
        sum(value(sample) for sample in memory) if memory else None,
        sum(value(sample) for sample in cpu) if cpu else None,
    )


def status_class(code: str) -> int | None:
    """``"503"`` or ``"5xx"`` → 5; None when ``code`` is not an HTTP status."""
    text = code.strip().lower()
    if len(text) == 3 and text[0] in "12345" and (text[1:].isdigit() or text[1:] == "xx"):
        return int(text[0])
    return None


@dataclass
class _Sums:
    requests: float = 0.0
    errors: float = 0.0
    client_errors: float = 0.0
    latency_sum: float = 0.0
    latency_count: float = 0.0

    def merge(self, other: _Sums) -> None:
        for name, amount in vars(other).items():
            setattr(self, name, getattr(self, name) + amount)

    def totals(self, *, latency: bool, client_errors: bool, errors_observed: bool) -> ServerTotals:
        return ServerTotals(
            requests=self.requests,
            errors=self.errors if errors_observed else 0.0,
            latency_sum_seconds=self.latency_sum if latency else None,
            latency_count=self.latency_count if latency else None,
            errors_observed=errors_observed,
            client_errors=self.client_errors if client_errors and errors_observed else None,
        )


class Tally:
    """One model's sums, kept per version (``None`` for series without a version label)."""

    def __init__(self) -> None:
        self._sums: dict[str | None, _Sums] = {}

    def add(self, version: str | None, **amounts: float) -> None:
        """Add ``requests``, ``errors``, ``client_errors``, ``latency_sum`` or ``latency_count``."""
        self._sums.setdefault(version, _Sums()).merge(_Sums(**amounts))

    def build(
        self,
        *,
        latency: bool,
        client_errors: bool = False,
        errors_observed: bool = True,
        version_errors_observed: bool | None = None,
        memory: float | None = None,
        cpu: float | None = None,
        caveats: Sequence[str] = (),
    ) -> ServerTotals:
        """The totals over every version, with ``by_version`` for the labelled ones."""
        per_version = (
            errors_observed if version_errors_observed is None else version_errors_observed
        )
        whole = _Sums()
        for sums in self._sums.values():
            whole.merge(sums)
        by_version = {
            version: sums.totals(
                latency=latency, client_errors=client_errors, errors_observed=per_version
            )
            for version, sums in sorted(self._sums.items(), key=lambda item: str(item[0]))
            if version is not None
        }
        total = whole.totals(
            latency=latency, client_errors=client_errors, errors_observed=errors_observed
        )
        return replace(
            total,
            by_version=by_version,
            memory_bytes=memory,
            cpu_seconds=cpu,
            caveats=tuple(caveats),
        )
