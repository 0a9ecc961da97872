"""Seldon Core 2 (its agent's metrics) and MLServer (its own metrics endpoint).

Seldon Core 2's agent, the sidecar in front of MLServer or Triton in a Server pod:
- requests = ``seldon_model_infer_total`` (labels ``model``, ``model_internal``, ``server``,
  ``server_replica``, ``method_type``, ``code``), every code;
- errors = codes 5xx (REST) or the server-side gRPC codes (``Internal``, ``Unavailable``,
  ``Unknown``, ``DeadlineExceeded``, ``Unimplemented``, ``DataLoss``) and unrecognised codes;
  client errors = 4xx and the client-side gRPC codes (``InvalidArgument``, ``NotFound``…);
- latency = ``seldon_model_infer_seconds_total`` (cumulative seconds, same labels and updates);
- version: ``model_internal`` is ``<model>_<version>``;
- ``seldon_model_infer_api_seconds`` (the histogram with the ``code`` label) carries no model label,
  so it is not used; the ``process_*`` metrics are the agent's own, not the model server's, so
  memory and CPU are None. Some releases prefix the names with a namespace: accepted.

MLServer's own endpoint (port 8082): ``model_infer_request_success`` and
``model_infer_request_failure`` counters and the ``model_infer_request_duration`` summary
(seconds), labelled ``model`` and ``version``; requests = success + failure, errors = failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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

AGENT_REQUESTS = "seldon_model_infer_total"
AGENT_SECONDS = "seldon_model_infer_seconds_total"
MLSERVER_SUCCESS = "model_infer_request_success"
MLSERVER_FAILURE = "model_infer_request_failure"
MLSERVER_DURATION = "model_infer_request_duration"
MODEL_LABELS = ("model", "model_name")
VERSION_LABELS = ("version", "model_version")
GRPC_CLIENT = frozenset(
    {
        *("canceled", "cancelled", "invalidargument", "notfound", "alreadyexists"),
        *("permissiondenied", "resourceexhausted", "failedprecondition", "aborted"),
        *("outofrange", "unauthenticated"),
    }
)


def code_class(code: str) -> int:
    """2, 4 or 5 for an HTTP status or a gRPC code name (``OK``, ``NotFound``, ``UNAVAILABLE``);
    an unrecognised code counts as a server error."""
    http = status_class(code)
    if http is not None:
        return http
    name = code.strip().lower().replace("_", "")
    return 2 if name == "ok" else 4 if name in GRPC_CLIENT else 5


def _named(names: Iterable[str], metric: str) -> frozenset[str]:
    """The names ``metric`` goes by in this scrape, namespace-prefixed or not."""
    bases = counter(metric)
    return frozenset(n for n in names for b in bases if n == b or n.endswith(f"_{b}"))


class SeldonMapping:
    name = "seldon"

    def recognises(self, names: AbstractSet[str]) -> bool:
        return bool(_named(names, AGENT_REQUESTS) or counter(MLSERVER_SUCCESS) & names)

    def totals(self, families: Sequence[Metric], *, model: str) -> ServerTotals:
        names = {f.name for f in families} | {s.name for f in families for s in f.samples}
        if _named(names, AGENT_REQUESTS) or not counter(MLSERVER_SUCCESS) & names:
            return self._agent(families, names, model)
        return self._mlserver(families, model)

    def _agent(self, families: Sequence[Metric], names: set[str], model: str) -> ServerTotals:
        tally = Tally()
        known = _named(names, AGENT_REQUESTS) or counter(AGENT_REQUESTS)
        chosen = select(families, AGENT_REQUESTS, known, model=model, model_labels=MODEL_LABELS)
        for sample in chosen:
            kind, amount = code_class(sample.labels.get("code", "")), value(sample)
            tally.add(
                _version(sample.labels.get("model_internal"), model),
                requests=amount,
                errors=amount if kind == 5 else 0.0,
                client_errors=amount if kind == 4 else 0.0,
                latency_count=amount,
            )
        for sample in mine(families, _named(names, AGENT_SECONDS), model, MODEL_LABELS):
            tally.add(
                _version(sample.labels.get("model_internal"), model), latency_sum=value(sample)
            )
        caveat = "process metrics here are the Seldon agent's, not the model server's: not used"
        return tally.build(latency=True, client_errors=True, caveats=(caveat,))

    def _mlserver(self, families: Sequence[Metric], model: str) -> ServerTotals:
        tally = Tally()
        success = counter(MLSERVER_SUCCESS)
        for sample in select(
            families, MLSERVER_SUCCESS, success, model=model, model_labels=MODEL_LABELS
        ):
            tally.add(label(sample.labels, VERSION_LABELS), requests=value(sample))
        # The failure series appears with the model's first failure (and, in MLServer's default
        # multi-process mode, the whole family with the server's first failure).
        for sample in mine(families, counter(MLSERVER_FAILURE), model, MODEL_LABELS):
            amount = value(sample)
            tally.add(label(sample.labels, VERSION_LABELS), requests=amount, errors=amount)
        for suffix in ("sum", "count"):
            for sample in mine(families, {f"{MLSERVER_DURATION}_{suffix}"}, model, MODEL_LABELS):
                tally.add(
                    label(sample.labels, VERSION_LABELS), **{f"latency_{suffix}": value(sample)}
                )
        memory, cpu = process_usage(families)
        return tally.build(latency=True, memory=memory, cpu=cpu)


def _version(internal: str | None, model: str) -> str | None:
    """``iris_2`` → ``2`` for model ``iris``."""
    if internal is None:
        return None
    return internal.removeprefix(f"{model}_") if internal != model else None


SELDON = SeldonMapping()
