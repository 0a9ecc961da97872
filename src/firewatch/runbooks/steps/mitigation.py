"""Mitigation actions beyond rollback: switch to the fallback version, reroute a share of the
traffic, fail over to another region's endpoint. Each is idempotent per incident and, in a dry
run, only says what it would do."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from firewatch.errors import FirewatchError
from firewatch.mitigate import failover as failover_choice
from firewatch.mitigate import fallback as fallback_action
from firewatch.mitigate import traffic as traffic_action
from firewatch.registry import regions as registry_regions
from firewatch.registry.models import RegionSwitchRow
from firewatch.registry.schemas import DEFAULT_MIN_HEALTHY_TIME
from firewatch.runbooks.schema import Outcome
from firewatch.runbooks.steps.base import StepContext, StepResult
from firewatch.runbooks.steps.hooks import hook as run_hook
from firewatch.runbooks.steps.serving import follow_registry


def _min_healthy_time(ctx: StepContext) -> timedelta:
    return ctx.model.rollback.min_healthy_time if ctx.model else DEFAULT_MIN_HEALTHY_TIME


def _failed(exc: FirewatchError) -> StepResult:
    return StepResult(Outcome.FAILED, exc.message, {"code": exc.code, **exc.details})


async def switch_to_fallback(ctx: StepContext, params: dict[str, Any]) -> StepResult:
    """Moves production to the model's fallback version (the registry alias ``fallback``)."""
    model = ctx.incident.model
    if model is None:
        return StepResult(Outcome.FAILED, "the incident names no model")
    incident = ctx.incident.display_id
    try:
        if ctx.dry_run:
            plan = await ctx.db.read(
                lambda s: fallback_action.plan_fallback(s, model=model, incident=incident)
            )
        else:
            now = ctx.clock.now()
            plan = await ctx.writer.run(
                lambda s: fallback_action.switch_to_fallback(
                    s, model=model, incident=incident, actor=ctx.actor, now=now
                )
            )
    except FirewatchError as exc:
        return _failed(exc)
    output: dict[str, Any] = {
        "from": plan.from_version,
        "to": plan.to_version,
        "already_done": plan.already_done,
    }
    what = f"{model} production from {plan.from_version} to the fallback {plan.to_version}"
    if plan.already_done:
        done = f"Already switched {what} for {incident}"
    elif ctx.dry_run:
        done, output = f"would switch {what}", {**output, "dry_run": True}
    else:
        done = f"Switched {what}"
    return await follow_registry(
        ctx,
        model=model,
        version=plan.to_version,
        previous=plan.from_version,
        action="fallback",
        done=done,
        output=output,
    )


async def reroute_traffic(ctx: StepContext, params: dict[str, Any]) -> StepResult:
    """Routes ``percent`` (default 100) of production traffic to ``to`` (default: the last known
    good version); the rest stays on the live version, and 100 moves production to ``to``."""
    model = ctx.incident.model
    if model is None:
        return StepResult(Outcome.FAILED, "the incident names no model")
    to = params.get("to")
    percent = params.get("percent", 100)
    if to is not None and not isinstance(to, str):
        return StepResult(Outcome.FAILED, f"parameter 'to' must be a version name, got {to!r}")
    if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 100:
        return StepResult(
            Outcome.FAILED, f"parameter 'percent' must be a whole number 1-100, got {percent!r}"
        )
    incident = ctx.incident.display_id
    minimum = _min_healthy_time(ctx)
    now = ctx.clock.now()
    try:
        if ctx.dry_run:
            plan = await ctx.db.read(
                lambda s: traffic_action.plan_reroute(
                    s,
                    model=model,
                    incident=incident,
                    to=to,
                    percent=percent,
                    min_healthy_time=minimum,
                    now=now,
                )
            )
        else:
            plan = await ctx.writer.run(
                lambda s: traffic_action.reroute(
                    s,
                    model=model,
                    incident=incident,
                    actor=ctx.actor,
                    now=now,
                    to=to,
                    percent=percent,
                    min_healthy_time=minimum,
                )
            )
    except FirewatchError as exc:
        return _failed(exc)
    output: dict[str, Any] = {
        "from": plan.from_version,
        "to": plan.to_version,
        "percent": plan.percent,
        "weights": plan.weights,
        "already_done": plan.already_done,
    }
    if plan.already_done:
        done = f"Already routed {plan.describe()} for {incident}"
    elif ctx.dry_run:
        done, output = f"would route {plan.describe()}", {**output, "dry_run": True}
    else:
        done = f"Routed {plan.describe()}"
    if plan.percent < 100:
        # A split lives in the registry: clients that read it follow; adapters move whole versions.
        return StepResult(Outcome.PASSED, done, output)
    return await follow_registry(
        ctx,
        model=model,
        version=plan.to_version,
        previous=plan.from_version,
        action="deploy",
        done=done,
        output=output,
    )


async def failover_region(ctx: StepContext, params: dict[str, Any]) -> StepResult:
    """Moves the model's traffic to another region's endpoint: ``region``, or the next healthy
    one after the active region (candidates are probed first; unhealthy ones are skipped). Calls
    the model's ``failover_hook`` to move the real traffic, then records the switch, which
    Firewatch's probes and health steps follow."""
    config = ctx.model
    if config is None or ctx.incident.model is None:
        return StepResult(
            Outcome.FAILED, f"model {ctx.incident.model} is not configured under models:"
        )
    model = config.name
    wanted = params.get("region")
    if wanted is not None and not isinstance(wanted, str):
        return StepResult(Outcome.FAILED, f"parameter 'region' must be a name, got {wanted!r}")
    if not config.endpoints:
        return StepResult(
            Outcome.FAILED,
            f"model {model} has no endpoints configured (models[].endpoints): nowhere to fail "
            "over to",
        )
    reason = f"failover for {ctx.incident.display_id}"

    def read(session: Session) -> tuple[str | None, RegionSwitchRow | None]:
        return (
            registry_regions.active_region(session, model=model),
            registry_regions.last_switch(session, model=model),
        )

    active, last = await ctx.db.read(read)
    current = failover_choice.current_region(config, active)
    if last is not None and last.reason == reason and last.to_region == current:
        return StepResult(
            Outcome.PASSED,
            f"Already failed {model} over from {last.from_region} to {current} for "
            f"{ctx.incident.display_id}",
            {"from": last.from_region, "to": current, "already_done": True},
        )
    try:
        choice = await failover_choice.choose_region(ctx.client, config, active, wanted)
    except FirewatchError as exc:
        return _failed(exc)
    probes = [
        {"region": p.region, "url": p.url, "ok": p.ok, "result": p.detail} for p in choice.probes
    ]
    output: dict[str, Any] = {
        "from": choice.from_region,
        "to": choice.to_region,
        "probes": probes,
    }
    if choice.to_region is None:
        return StepResult(
            Outcome.FAILED,
            f"no healthy region to fail {model} over to from {choice.from_region} "
            f"({choice.probed()}); traffic stays where it is",
            output,
        )
    return await _switch(ctx, model, choice, reason, output)


async def _switch(
    ctx: StepContext,
    model: str,
    choice: failover_choice.FailoverChoice,
    reason: str,
    output: dict[str, Any],
) -> StepResult:
    assert ctx.model is not None
    assert choice.to_region is not None
    source, target = choice.from_region, choice.to_region
    hook_name = ctx.model.failover_hook
    via = f" via hook {hook_name}" if hook_name else ""
    what = f"{model} over from {source} to {target}{via} ({target}: {choice.probes[-1].detail})"
    if ctx.dry_run:
        return StepResult(Outcome.PASSED, f"would fail {what}", {**output, "dry_run": True})
    if hook_name:
        args = {"model": model, "from": source, "to": target}
        called = await run_hook(ctx, {"hook": hook_name, "action": "custom", "args": args})
        output["hook"] = called.output
        if called.outcome is not Outcome.PASSED:
            return StepResult(
                Outcome.FAILED,
                f"failover hook {hook_name} failed, so {model} stays in {source}: {called.summary}",
                output,
            )
    now = ctx.clock.now()
    regions = [e.region for e in ctx.model.endpoints]
    try:
        await ctx.writer.run(
            lambda s: registry_regions.switch_region(
                s, model=model, to=target, regions=regions, now=now, actor=ctx.actor, reason=reason
            )
        )
    except FirewatchError as exc:
        return _failed(exc)
    registry_regions.switched()
    if not hook_name:
        return StepResult(
            Outcome.PASSED,
            f"Failed {what}; no failover_hook is configured, so only clients that follow the "
            "registry (and Firewatch's probes) moved — switch DNS / the load balancer too",
            output,
        )
    return StepResult(Outcome.PASSED, f"Failed {what}", output)
