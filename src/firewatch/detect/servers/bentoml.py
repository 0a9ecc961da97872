"""BentoML ≥ 1.2 services: ``bentoml_service_request_total`` and the
``bentoml_service_request_duration_seconds`` histogram, labelled ``endpoint`` (the URL path),
``service_name`` (the Bento), ``runner_name`` (the service that answered), ``service_version``
and ``http_response_code``.

- the model is matched on ``runner_name`` (each service of a Bento, main or dependency, has its
  own), or ``service_name`` for series without one; the version is ``service_version``;
- every HTTP path is instrumented, probes and docs included: requests count only the API
  endpoints (not ``/livez``, ``/readyz``, ``/healthz``, ``/metrics``, ``/``, ``/docs.json``,
  ``/schema.json``, static assets), or only ``endpoints`` when given;
- errors = 5xx answers. 4xx answers (BentoML's 400 for bad input, 404, 422…) are the caller's
  fault and go to ``client_errors``, as in Firewatch's own convention (errors are 5xx);
- latency = the histogram's sum and count over the same series.

BentoML serves metrics in prometheus_client's multi-process mode: no ``process_*`` metrics, and a
family appears only once it has a value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet

from prometheus_client.metrics_core import Metric

from firewatch.detect.servers.base import (
    ServerTotals,
    Tally,
    counter,
    label,
    mine,
    process_usage,
    select,
    status_class,
    value,
)

REQUESTS = "bentoml_service_request_total"
DURATION = "bentoml_service_request_duration_seconds"
MODEL_LABELS = ("runner_name", "service_name")
NOT_API = frozenset(
    {"/", "/livez", "/readyz", "/healthz", "/metrics", "/docs.json", "/schema.json"}
)
NOT_API_PREFIXES = ("/static_content/", "/assets/", "/docs")


def is_api(endpoint: str) -> bool:
    """Whether a path is an API endpoint rather than a probe, the docs or static assets."""
    return endpoint not in NOT_API and not endpoint.startswith(NOT_API_PREFIXES)


class BentoMLMapping:
    name = "bentoml"

    def __init__(self, endpoints: Iterable[str] | None = None) -> None:
        self.endpoints = frozenset(endpoints) if endpoints is not None else None

    def recognises(self, names: AbstractSet[str]) -> bool:
        return bool(counter(REQUESTS) & names)

    def totals(self, families: Sequence[Metric], *, model: str) -> ServerTotals:
        tally = Tally()
        chosen = select(
            families, REQUESTS, counter(REQUESTS), model=model, model_labels=MODEL_LABELS
        )
        for sample in chosen:
            if not self._counts(sample.labels):
                continue
            kind, amount = status_class(sample.labels.get("http_response_code", "")), value(sample)
            tally.add(
                sample.labels.get("service_version"),
                requests=amount,
                errors=amount if kind == 5 else 0.0,
                client_errors=amount if kind == 4 else 0.0,
            )
        for suffix in ("sum", "count"):
            for sample in mine(families, {f"{DURATION}_{suffix}"}, model, MODEL_LABELS):
                if self._counts(sample.labels):
                    version = sample.labels.get("service_version")
                    tally.add(version, **{f"latency_{suffix}": value(sample)})
        memory, cpu = process_usage(families)
        return tally.build(latency=True, client_errors=True, memory=memory, cpu=cpu)

    def _counts(self, labels: Mapping[str, str]) -> bool:
        endpoint = label(labels, ("endpoint",)) or ""
        return endpoint in self.endpoints if self.endpoints is not None else is_api(endpoint)


BENTOML = BentoMLMapping()
