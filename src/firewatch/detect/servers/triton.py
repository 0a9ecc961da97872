"""NVIDIA Triton Inference Server: per-model counters without ``_total`` (``/metrics`` on port
8002), labelled ``model`` and ``version``.

- requests = ``nv_inference_request_success`` + ``nv_inference_request_failure``;
- errors = ``nv_inference_request_failure``, except ``reason="CANCELED"`` (a client cancelling),
  reported as ``client_errors``; the ``reason`` label (REJECTED, CANCELED, BACKEND, OTHER…) exists
  in recent releases only, older ones count every failure as an error;
- latency = ``nv_inference_request_duration_us`` (cumulative µs, successful requests only), over
  ``nv_inference_request_success``.

Triton exposes no ``process_*`` metrics (its ``nv_cpu_*`` ones are system-wide), so memory and CPU
are None.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet

from prometheus_client.metrics_core import Metric

from firewatch.detect.servers.base import ServerTotals, Tally, counter, label, select, value

SUCCESS = "nv_inference_request_success"
FAILURE = "nv_inference_request_failure"
DURATION_US = "nv_inference_request_duration_us"
MODEL_LABELS = ("model",)
VERSION_LABELS = ("version",)
CLIENT_REASONS = frozenset({"CANCELED", "CANCELLED"})


class TritonMapping:
    name = "triton"

    def recognises(self, names: AbstractSet[str]) -> bool:
        return bool(counter(SUCCESS) & names)

    def totals(self, families: Sequence[Metric], *, model: str) -> ServerTotals:
        def ours(metric: str) -> list[tuple[str | None, float, str | None]]:
            chosen = select(
                families, metric, counter(metric), model=model, model_labels=MODEL_LABELS
            )
            return [
                (label(s.labels, VERSION_LABELS), value(s), s.labels.get("reason")) for s in chosen
            ]

        tally = Tally()
        for version, amount, _ in ours(SUCCESS):
            tally.add(version, requests=amount, latency_count=amount)
        for version, amount, reason in ours(FAILURE):
            if reason is not None and reason.upper() in CLIENT_REASONS:
                tally.add(version, requests=amount, client_errors=amount)
            else:
                tally.add(version, requests=amount, errors=amount)
        for version, amount, _ in ours(DURATION_US):
            tally.add(version, latency_sum=amount / 1e6)
        return tally.build(
            latency=True,
            client_errors=True,
            caveats=("latency covers successful requests only (Triton's duration counter)",),
        )


TRITON = TritonMapping()
