"""Measuring a model's signals from fresh scrapes of its ``/metrics``, and the ``signal_recovers``
step that verifies, after an action, that the signal which raised the alert is back to normal.

A rate or a latency is measured between two scrapes, from the increase of the counters (and of a
latency histogram's buckets for the p95): only requests served in between count.
"""

from __future__ import annotations

import asyncio
import fnmatch
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from prometheus_client.metrics_core import Metric

from firewatch.config import FirewatchConfig, ModelConfig
from firewatch.detect.rule_config import Condition, RuleConfig, merge_rules
from firewatch.detect.servers import MAPPINGS, ScrapeError, ServerTotals, detect_mapping
from firewatch.detect.servers.base import label, of_model, parse_metrics, samples
from firewatch.detect.servers.bentoml import is_api
from firewatch.duration import parse_duration
from firewatch.runbooks.schema import Outcome
from firewatch.runbooks.steps.base import StepContext, StepResult

RATE_SIGNALS = ("error_rate", "latency_mean_s", "latency_p95_s")
"""Signals measured over the requests served between two scrapes."""
SCRAPE_SIGNALS = (*RATE_SIGNALS, "memory_fraction", "cpu_fraction")
"""Every signal a scrape of ``/metrics`` gives the runbook steps."""

HISTOGRAMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "firewatch": ("model_request_duration_seconds", ("model", "model_name")),
    "kserve": ("request_predict_seconds", ("model_name",)),
    "bentoml": ("bentoml_service_request_duration_seconds", ("runner_name", "service_name")),
}
"""The latency histogram (and its model labels) of each server mapping that exposes one."""

_ALERT_SIGNALS = {
    "HighErrorRate": "error_rate",
    "ErrorRateAnomaly": "error_rate",
    "SlowResponses": "latency_mean_s",
}
"""The signal verified by default for an incident opened by these built-in alerts."""


class MeasureError(Exception):
    """A signal cannot be measured; the message says why and what to do."""


@dataclass(frozen=True)
class Snapshot:
    """One scrape: the model's cumulative totals, its latency histogram, and when it was taken."""

    at: float
    totals: ServerTotals
    buckets: dict[float, float] | None
    mapping: str


@dataclass(frozen=True)
class Measurement:
    value: float | None
    requests: float
    detail: str


def metrics_url(model: ModelConfig | None, model_name: str | None, signal: str) -> str:
    """The model's metrics URL, or MeasureError saying that the signal cannot be measured."""
    if model is None:
        raise MeasureError(f"model {model_name} is not configured: cannot measure {signal}")
    if model.metrics_url is None:
        raise MeasureError(f"model {model.name} has no metrics_url: cannot verify {signal}")
    return str(model.metrics_url)


async def scrape(client: httpx.AsyncClient, model: ModelConfig) -> Snapshot:
    """Scrape the model's ``/metrics`` once; MeasureError when it cannot be read or understood."""
    url = metrics_url(model, model.name, "its metrics")
    try:
        response = await client.get(url, timeout=model.probe.timeout.total_seconds() + 4)
        response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        raise MeasureError(f"GET {url} answered HTTP {exc.response.status_code}") from None
    except httpx.HTTPError as exc:
        raise MeasureError(f"GET {url} failed: {type(exc).__name__}: {exc}") from None
    taken = time.monotonic()
    try:
        families = parse_metrics(response.text)
        mapping = (
            MAPPINGS[model.scrape.mapping]
            if model.scrape.mapping != "auto"
            else detect_mapping(families)
        )
        if mapping is None:
            raise ScrapeError("no known model-server metrics found")
        totals = mapping.totals(families, model=model.name)
    except ScrapeError as exc:
        raise MeasureError(f"{url}: {exc}") from None
    return Snapshot(taken, totals, _buckets(families, mapping.name, model.name), mapping.name)


def _buckets(families: Sequence[Metric], mapping: str, model: str) -> dict[float, float] | None:
    """The latency histogram's cumulative counts by upper bound, summed over the model's series."""
    if mapping not in HISTOGRAMS:
        return None
    name, model_labels = HISTOGRAMS[mapping]
    counts: dict[float, float] = {}
    for sample in samples(families, {f"{name}_bucket"}):
        if not of_model(sample.labels, model, model_labels) or "le" not in sample.labels:
            continue
        if mapping == "bentoml" and not is_api(label(sample.labels, ("endpoint",)) or ""):
            continue
        bound = float(sample.labels["le"])
        counts[bound] = counts.get(bound, 0.0) + max(float(sample.value), 0.0)
    return counts or None


def _increase(before: float | None, after: float | None) -> float:
    """A counter's increase; a drop means the process restarted, so ``after`` is the increase."""
    if after is None:
        return 0.0
    if before is None or after < before:
        return after
    return after - before


def _pairs(
    before: ServerTotals, after: ServerTotals
) -> list[tuple[ServerTotals | None, ServerTotals]]:
    """Matching (before, after) totals: per version when the server labels versions, so that a
    version unloaded or loaded in between is not mistaken for a counter reset."""
    if after.by_version:
        return [(before.by_version.get(v), part) for v, part in after.by_version.items()]
    return [(before, after)]


def measure(signal: str, before: Snapshot, after: Snapshot, model: ModelConfig) -> Measurement:
    """``signal`` over the requests served between two scrapes (``value`` None if none were)."""
    pairs = _pairs(before.totals, after.totals)
    requests = sum(_increase(b.requests if b else None, a.requests) for b, a in pairs)
    if signal == "error_rate":
        if not after.totals.errors_observed:
            caveat = "; ".join(after.totals.caveats) or "no failure counter"
            raise MeasureError(f"model {model.name}'s server exposes no error count ({caveat})")
        errors = sum(_increase(b.errors if b else None, a.errors) for b, a in pairs)
        rate = errors / requests if requests > 0 else None
        return Measurement(rate, requests, f"{errors:g} of {requests:g} requests failed")
    if signal == "latency_mean_s":
        if after.totals.latency_sum_seconds is None:
            raise MeasureError(f"model {model.name}'s server ({after.mapping}) exposes no latency")
        count = sum(_increase(b.latency_count if b else None, a.latency_count) for b, a in pairs)
        spent = sum(
            _increase(b.latency_sum_seconds if b else None, a.latency_sum_seconds) for b, a in pairs
        )
        mean = spent / count if count > 0 else None
        return Measurement(mean, count, f"mean over {count:g} requests")
    if signal == "latency_p95_s":
        if after.buckets is None:
            raise MeasureError(
                f"model {model.name}'s server ({after.mapping}) exposes no latency histogram; "
                "use latency_mean_s instead"
            )
        increases = _bucket_increase(before.buckets or {}, after.buckets)
        count = increases[-1][1] if increases else 0.0
        return Measurement(_quantile(0.95, increases), count, f"p95 over {count:g} requests")
    return _resource(signal, before, after, model, requests)


def _resource(
    signal: str, before: Snapshot, after: Snapshot, model: ModelConfig, requests: float
) -> Measurement:
    if signal == "memory_fraction":
        limit, used = model.limits.memory_bytes, after.totals.memory_bytes
        if not limit:
            raise MeasureError(f"model {model.name} has no limits.memory_bytes to compare with")
        if used is None:
            raise MeasureError(
                f"model {model.name}'s metrics have no process_resident_memory_bytes"
            )
        return Measurement(used / limit, requests, f"{used:,.0f} of {limit:,} bytes")
    if signal == "cpu_fraction":
        cores = model.limits.cpu_cores
        if not cores:
            raise MeasureError(f"model {model.name} has no limits.cpu_cores to compare with")
        if after.totals.cpu_seconds is None:
            raise MeasureError(f"model {model.name}'s metrics have no process_cpu_seconds_total")
        seconds = after.at - before.at
        used = _increase(before.totals.cpu_seconds, after.totals.cpu_seconds)
        value = used / seconds / cores if seconds > 0 else None
        return Measurement(value, requests, f"{used:.2f} CPU-seconds in {seconds:.1f}s")
    raise MeasureError(f"unknown signal {signal!r}: expected one of {', '.join(SCRAPE_SIGNALS)}")


def _bucket_increase(
    before: dict[float, float], after: dict[float, float]
) -> list[tuple[float, float]]:
    """The histogram's increase per upper bound, sorted; a reset takes ``after`` whole."""
    reset = after.get(math.inf, 0.0) < before.get(math.inf, 0.0)
    return sorted(
        (bound, count if reset else max(count - before.get(bound, 0.0), 0.0))
        for bound, count in after.items()
    )


def _quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus's ``histogram_quantile``: interpolated linearly within the bucket it falls in."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower  # the highest finite bound: all one can say
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def default_threshold(
    config: FirewatchConfig, *, signal: str, model: str | None, alertname: str | None
) -> float | None:
    """The threshold of the alert rule watching ``signal`` for this model (the incident's own
    alert first): the built-in rules with the config's overrides."""
    candidates = [
        rule
        for rule in merge_rules(config.rules)
        if rule.signal is not None
        and rule.signal.value == signal
        and rule.condition is Condition.ABOVE
        and rule.threshold is not None
        and _applies(rule, model)
    ]
    candidates.sort(key=lambda rule: rule.name != alertname)
    return candidates[0].threshold if candidates else None


def _applies(rule: RuleConfig, model: str | None) -> bool:
    return model is None or any(fnmatch.fnmatchcase(model, p) for p in rule.models)


def _param_float(params: dict[str, Any], name: str) -> float | None:
    raw = params.get(name)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueError(f"parameter {name!r} must be a number, got {raw!r}")
    return float(raw)


def _format(signal: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if signal in ("error_rate", "memory_fraction", "cpu_fraction"):
        return f"{value:.1%}"
    return f"{value * 1000:.0f} ms"


def _param_seconds(params: dict[str, Any], name: str, default: Any) -> float:
    try:
        seconds = parse_duration(params.get(name, default)).total_seconds()
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"parameter {name!r}: {exc}") from None
    if seconds <= 0:
        raise ValueError(f"parameter {name!r} must be positive")
    return seconds


@dataclass(frozen=True)
class _RecoveryPlan:
    signal: str
    below: float
    deadline_s: float
    interval_s: float
    min_requests: float
    consecutive: int


def _plan(ctx: StepContext, params: dict[str, Any]) -> _RecoveryPlan:
    """The step's parameters, with defaults; ValueError naming a bad one."""
    alertname = ctx.incident.labels.get("alertname")
    signal = params.get("signal") or _ALERT_SIGNALS.get(alertname or "")
    if signal not in RATE_SIGNALS:
        raise ValueError(
            f"parameter 'signal' must be one of {', '.join(RATE_SIGNALS)}, got {signal!r}"
        )
    below = _param_float(params, "below")
    if below is None:
        below = default_threshold(
            ctx.config, signal=signal, model=ctx.incident.model, alertname=alertname
        )
    if below is None:
        raise ValueError(f"parameter 'below' is needed: no alert rule gives a {signal} threshold")
    deadline = _param_seconds(params, "deadline", ctx.settings.verify_timeout)
    interval = _param_seconds(params, "interval", 1)
    min_requests = _param_float(params, "min_requests")
    consecutive = params.get("consecutive", 2)
    if not isinstance(consecutive, int) or isinstance(consecutive, bool) or consecutive < 1:
        raise ValueError(f"parameter 'consecutive' must be a whole number ≥ 1, got {consecutive!r}")
    return _RecoveryPlan(
        signal,
        below,
        deadline,
        interval,
        20.0 if min_requests is None else min_requests,
        consecutive,
    )


async def signal_recovers(ctx: StepContext, params: dict[str, Any]) -> StepResult:
    """Verifies recovery after an action: passes once the signal (``error_rate``,
    ``latency_mean_s`` or ``latency_p95_s``), measured only over the traffic served since the step
    started, stays ``below`` the threshold (default: the matching alert rule's) for
    ``consecutive`` checks ``interval`` apart, each over at least ``min_requests`` requests; fails
    at the ``deadline`` (default ``runbooks.verify_timeout``) with the last value."""
    try:
        plan = _plan(ctx, params)
        metrics_url(ctx.model, ctx.incident.model, plan.signal)
    except (ValueError, MeasureError) as exc:
        return StepResult(Outcome.FAILED, str(exc))
    assert ctx.model is not None
    started = time.monotonic()
    deadline = started + plan.deadline_s
    start: Snapshot | None = None
    last: Measurement | None = None
    problem = ""
    streak = checks = 0
    while True:
        try:
            snapshot = await scrape(ctx.client, ctx.model)
        except MeasureError as exc:
            problem, streak = str(exc), 0
        else:
            if start is None:
                start = snapshot
            else:
                try:
                    last = measure(plan.signal, start, snapshot, ctx.model)
                except MeasureError as exc:
                    return StepResult(Outcome.FAILED, f"cannot verify {plan.signal}: {exc}")
                checks += 1
                problem = ""
                healthy = (
                    last.value is not None
                    and last.requests >= plan.min_requests
                    and last.value < plan.below
                )
                streak = streak + 1 if healthy else 0
                if streak >= plan.consecutive:
                    return _recovered(plan, last, checks, time.monotonic() - started)
        if time.monotonic() + plan.interval_s > deadline:
            return _not_recovered(plan, last, problem, time.monotonic() - started)
        await asyncio.sleep(plan.interval_s)


def _output(plan: _RecoveryPlan, last: Measurement | None, waited: float) -> dict[str, Any]:
    return {
        "signal": plan.signal,
        "below": plan.below,
        "value": last.value if last else None,
        "requests": last.requests if last else 0,
        "min_requests": plan.min_requests,
        "waited_s": round(waited, 2),
    }


def _recovered(plan: _RecoveryPlan, last: Measurement, checks: int, waited: float) -> StepResult:
    summary = (
        f"recovered: {plan.signal} {_format(plan.signal, last.value)} < "
        f"{_format(plan.signal, plan.below)} over {last.requests:g} requests since the action "
        f"({plan.consecutive} checks in a row, {waited:.1f}s)"
    )
    return StepResult(Outcome.PASSED, summary, _output(plan, last, waited) | {"checks": checks})


def _not_recovered(
    plan: _RecoveryPlan, last: Measurement | None, problem: str, waited: float
) -> StepResult:
    output = _output(plan, last, waited)
    if problem and last is None:
        summary = f"cannot verify {plan.signal} after {waited:.0f}s: {problem}"
    elif last is None or last.requests < plan.min_requests:
        seen = last.requests if last else 0
        summary = (
            f"not verified: only {seen:g} requests since the action (need {plan.min_requests:g}) "
            f"in {waited:.0f}s; is traffic reaching the model? check it by hand"
        )
    else:
        summary = (
            f"not recovered: {plan.signal} still {_format(plan.signal, last.value)} "
            f"(threshold {_format(plan.signal, plan.below)}) over {last.requests:g} requests "
            f"after {waited:.0f}s; the action did not fix it"
        )
    if problem and last is not None:
        summary += f" (last scrape: {problem})"
    return StepResult(Outcome.FAILED, summary, output)
