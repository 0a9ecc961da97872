"""Built-in mappings from model servers' Prometheus metrics to what Firewatch's detectors need
(requests, errors, latency, memory, CPU of one model), so KServe, Triton, Seldon Core 2 / MLServer,
BentoML and TorchServe work without custom code.

Detectors call ``read_totals(text, model=..., mapping="auto")`` on each scrape and feed the
cumulative counters to ``CounterWindow``.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client.metrics_core import Metric

from firewatch.detect.servers.base import (
    MetricsMapping,
    ScrapeError,
    ServerTotals,
    parse_metrics,
)
from firewatch.detect.servers.bentoml import BENTOML, BentoMLMapping
from firewatch.detect.servers.firewatch import FIREWATCH, CounterPairMapping
from firewatch.detect.servers.kserve import KSERVE, KServeMapping
from firewatch.detect.servers.seldon import SELDON, SeldonMapping
from firewatch.detect.servers.torchserve import TORCHSERVE, TorchServeMapping
from firewatch.detect.servers.triton import TRITON, TritonMapping

__all__ = [
    "MAPPINGS",
    "BentoMLMapping",
    "CounterPairMapping",
    "KServeMapping",
    "MetricsMapping",
    "ScrapeError",
    "SeldonMapping",
    "ServerTotals",
    "TorchServeMapping",
    "TritonMapping",
    "detect_mapping",
    "parse_metrics",
    "read_totals",
]

MAPPINGS: dict[str, MetricsMapping] = {
    mapping.name: mapping for mapping in (FIREWATCH, KSERVE, TRITON, SELDON, BENTOML, TORCHSERVE)
}
"""The built-in mappings by name, in the order ``detect_mapping`` tries them."""


def detect_mapping(families: Sequence[Metric]) -> MetricsMapping | None:
    """The mapping whose metric names appear in the scrape (the first, in ``MAPPINGS`` order), or
    None when the scrape comes from none of the known servers."""
    names = frozenset(
        {family.name for family in families}
        | {sample.name for family in families for sample in family.samples}
    )
    return next((mapping for mapping in MAPPINGS.values() if mapping.recognises(names)), None)


def read_totals(text: str, *, model: str, mapping: str = "auto") -> ServerTotals:
    """One model's cumulative totals from a ``/metrics`` text.

    ``mapping`` is a ``MAPPINGS`` name, or ``"auto"`` to recognise the server from its metric
    names. ``ScrapeError`` when the text is not Prometheus format, the server is not recognised,
    or the metrics the mapping needs are absent; ``ValueError`` for an unknown mapping name (a
    configuration error, to be caught when the configuration is loaded).
    """
    if mapping != "auto" and mapping not in MAPPINGS:
        known = ", ".join(["auto", *MAPPINGS])
        raise ValueError(f"unknown metrics mapping {mapping!r} (known: {known})")
    families = parse_metrics(text)
    chosen = MAPPINGS[mapping] if mapping != "auto" else detect_mapping(families)
    if chosen is None:
        raise ScrapeError(
            "no known model-server metrics found (looked for "
            "model_requests_total, request_predict_seconds, nv_inference_request_success, "
            "seldon_model_infer_total, model_infer_request_success, "
            "bentoml_service_request_total, ts_inference_requests_total)"
        )
    return chosen.totals(families, model=model)
