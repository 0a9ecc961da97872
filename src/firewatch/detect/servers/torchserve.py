"""TorchServe's metrics API (``metrics_mode=prometheus``, port 8082): per-model counters labelled
``model_name`` and ``model_version`` (``"default"`` when unversioned; older releases add ``uuid``).

- requests = ``ts_inference_requests_total`` (every inference request received);
- latency = ``ts_inference_latency_microseconds`` (cumulative µs) over the same requests: TorchServe
  exposes no count of the requests that sum covers, so the mean is an approximation;
- errors = ``Requests5XX``, client errors = ``Requests4XX``: host-level counters (labels ``Level``,
  ``Hostname``) over every API call, management and ping included. They are attributed to the
  model only when the server serves a single model, and never to a version; otherwise
  ``errors_observed`` is False.

Naming quirks: the TYPE lines say ``Requests5XX`` and ``ts_inference_latency_microseconds`` while
prometheus_client's parser reads their samples as ``…_total``; both spellings are accepted. Backend
gauges (``HandlerTime``, ``PredictionTime``) label the model ``ModelName``. TorchServe (a JVM)
exposes no ``process_*`` metrics, and its ``MemoryUsed``/``CPUUtilization`` are host-wide.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet

from prometheus_client.metrics_core import Metric

from firewatch.detect.servers.base import (
    ServerTotals,
    Tally,
    counter,
    declared,
    label,
    mine,
    models_in,
    process_usage,
    samples,
    select,
    value,
)

REQUESTS = "ts_inference_requests_total"
LATENCY_US = "ts_inference_latency_microseconds"
SERVER_ERRORS = "Requests5XX"
CLIENT_ERRORS = "Requests4XX"
MODEL_LABELS = ("model_name", "ModelName")
VERSION_LABELS = ("model_version", "ModelVersion")


class TorchServeMapping:
    name = "torchserve"

    def recognises(self, names: AbstractSet[str]) -> bool:
        return bool(counter(REQUESTS) & names)

    def totals(self, families: Sequence[Metric], *, model: str) -> ServerTotals:
        tally = Tally()
        chosen = select(
            families, REQUESTS, counter(REQUESTS), model=model, model_labels=MODEL_LABELS
        )
        for sample in chosen:
            amount = value(sample)
            tally.add(label(sample.labels, VERSION_LABELS), requests=amount, latency_count=amount)
        latency = declared(families, counter(LATENCY_US))
        for sample in mine(families, counter(LATENCY_US), model, MODEL_LABELS):
            tally.add(label(sample.labels, VERSION_LABELS), latency_sum=value(sample) / 1e6)
        served = models_in(samples(families, counter(REQUESTS)), MODEL_LABELS)
        host_level = declared(families, counter(SERVER_ERRORS))
        caveats = ["latency mean approximated over all requests received (no latency count)"]
        if host_level and served == {model}:
            server = sum(value(s) for s in samples(families, counter(SERVER_ERRORS)))
            client = sum(value(s) for s in samples(families, counter(CLIENT_ERRORS)))
            tally.add(None, errors=server, client_errors=client)
            caveats.append(f"{SERVER_ERRORS}/{CLIENT_ERRORS} are host-wide, every API included")
            observed = True
        else:
            why = f"{len(served)} models share" if host_level else "no"
            caveats.append(f"{why} host-level {SERVER_ERRORS} counter: errors not measured")
            observed = False
        memory, cpu = process_usage(families)
        return tally.build(
            latency=latency,
            client_errors=observed,
            errors_observed=observed,
            version_errors_observed=False,
            memory=memory,
            cpu=cpu,
            caveats=caveats,
        )


TORCHSERVE = TorchServeMapping()
