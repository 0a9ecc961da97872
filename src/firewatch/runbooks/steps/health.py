"""Health steps: confirm that the service is failing, and wait for it to recover."""

from __future__ import annotations

from typing import Any

from firewatch.detect.probes import probe_once
from firewatch.duration import parse_duration
from firewatch.mitigate.verify import wait_for_health
from firewatch.registry.regions import resolve_probe_url
from firewatch.runbooks.schema import Outcome
from firewatch.runbooks.steps.base import StepContext, StepResult


async def _health_url(ctx: StepContext) -> str | None:
    """The health URL of the model's active endpoint (it follows a failover to another region)."""
    return await resolve_probe_url(ctx.db, ctx.model) if ctx.model else None


async def http_health(ctx: StepContext, params: dict[str, Any]) -> StepResult:
    """Passes when /health confirms the outage (the alert is real)."""
    url = await _health_url(ctx)
    if url is None:
        return StepResult(
            Outcome.FAILED, f"no health_url configured for model {ctx.incident.model}"
        )
    assert ctx.model is not None
    result = await probe_once(ctx.client, url, ctx.model.probe.timeout.total_seconds())
    output = {"url": url, "result": result.detail, "latency_ms": round(result.latency_s * 1000, 1)}
    if result.ok:
        return StepResult(
            Outcome.FAILED, f"not confirmed: GET {url} answers {result.detail} (flapping?)", output
        )
    return StepResult(Outcome.PASSED, f"confirmed: GET {url} → {result.detail}", output)


async def health_recovers(ctx: StepContext, params: dict[str, Any]) -> StepResult:
    """Passes when /health succeeds ``consecutive`` times in a row before the deadline."""
    url = await _health_url(ctx)
    if url is None:
        return StepResult(
            Outcome.FAILED, f"no health_url configured for model {ctx.incident.model}"
        )
    assert ctx.model is not None
    deadline = parse_duration(params.get("deadline", ctx.settings.verify_timeout))
    consecutive = int(params.get("consecutive", max(2, ctx.model.probe.recovery_threshold)))
    interval = min(ctx.model.probe.interval.total_seconds(), 1.0)
    verification = await wait_for_health(
        ctx.client,
        url,
        deadline_s=deadline.total_seconds(),
        interval_s=interval,
        timeout_s=ctx.model.probe.timeout.total_seconds(),
        consecutive=consecutive,
    )
    output = {
        "url": url,
        "probes": verification.probes,
        "waited_s": round(verification.waited_s, 2),
        "last": verification.last.detail if verification.last else None,
    }
    if verification.recovered:
        return StepResult(
            Outcome.PASSED,
            f"recovered: {consecutive} healthy probes in a row after {verification.waited_s:.1f}s",
            output,
        )
    return StepResult(
        Outcome.FAILED,
        f"still failing after {deadline.total_seconds():g}s (last: {output['last']})",
        output,
    )
