"""KServe's Python model server (sklearnserver, xgbserver, lgbserver, pmmlserver, paddleserver,
custom predictors): the ``request_predict_seconds`` histogram, labelled ``model_name``.

- requests = ``request_predict_seconds_count`` (the histogram times ``predict`` and observes on
  exceptions too, so it counts failed predictions; failures before ``predict``, in preprocess or
  validation, are not counted);
- latency = ``request_predict_seconds_sum`` / ``_count`` (predict step only);
- errors: the model server exposes **no failure counter**. When the scrape also carries the Knative
  queue-proxy's ``revision_app_request_count`` (KServe's aggregated metrics endpoint, qpext) and a
  single model is served, requests and errors come from that counter (errors: response class 5xx,
  client errors: 4xx). Otherwise ``errors`` is 0 with ``errors_observed=False``: not a measured 0%.
- no version label: ``by_version`` is empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet

from prometheus_client.metrics_core import Metric

from firewatch.detect.servers.base import (
    ServerTotals,
    Tally,
    counter,
    label,
    mine,
    models_in,
    process_usage,
    samples,
    select,
    status_class,
    value,
)

PREDICT = "request_predict_seconds"
QUEUE_PROXY = "revision_app_request_count"
MODEL_LABELS = ("model_name",)
NO_ERRORS = "KServe's model server exposes no failure counter: errors not measured"


class KServeMapping:
    name = "kserve"

    def recognises(self, names: AbstractSet[str]) -> bool:
        return PREDICT in names or f"{PREDICT}_count" in names

    def totals(self, families: Sequence[Metric], *, model: str) -> ServerTotals:
        counts = select(
            families, PREDICT, {f"{PREDICT}_count"}, model=model, model_labels=MODEL_LABELS
        )
        tally = Tally()
        tally.add(None, latency_count=sum(value(sample) for sample in counts))
        for sample in mine(families, {f"{PREDICT}_sum"}, model, MODEL_LABELS):
            tally.add(None, latency_sum=value(sample))
        memory, cpu = process_usage(families)
        proxied = samples(families, counter(QUEUE_PROXY))
        served = models_in(samples(families, {f"{PREDICT}_count"}), MODEL_LABELS)
        if not proxied or served != {model}:
            tally.add(None, requests=sum(value(sample) for sample in counts))
            caveats = [NO_ERRORS]
            if proxied:
                caveats.append(
                    f"{QUEUE_PROXY} is per pod, and this pod serves {len(served)} models"
                )
            return tally.build(
                latency=True, errors_observed=False, memory=memory, cpu=cpu, caveats=caveats
            )
        for sample in proxied:
            code = label(sample.labels, ("response_code_class", "response_code")) or ""
            kind = status_class(code)
            tally.add(
                None,
                requests=value(sample),
                errors=value(sample) if kind == 5 else 0.0,
                client_errors=value(sample) if kind == 4 else 0.0,
            )
        caveats = [
            f"requests and errors from the queue-proxy's {QUEUE_PROXY}: every HTTP request to "
            "the predictor, gRPC failures included as 2xx"
        ]
        return tally.build(
            latency=True, client_errors=True, memory=memory, cpu=cpu, caveats=caveats
        )


KSERVE = KServeMapping()
