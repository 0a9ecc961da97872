"""Deployment steps: is a recent deploy the likely cause, and roll back to the last good version."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from firewatch.duration import format_duration, parse_duration
from firewatch.errors import FirewatchError
from firewatch.mitigate.rollback import rollback_to_last_good as do_rollback
from firewatch.registry import service as registry_service
from firewatch.registry.schemas import DEFAULT_MIN_HEALTHY_TIME
from firewatch.runbooks.schema import Outcome
from firewatch.runbooks.steps.base import StepContext, StepResult
from firewatch.runbooks.steps.serving import follow_registry


async def recent_deploy(ctx: StepContext, params: dict[str, Any]) -> StepResult:
    """Passes when the live production version was deployed within the window before the incident."""
    model = ctx.incident.model
    if model is None:
        return StepResult(Outcome.FAILED, "the incident names no model")
    window = parse_duration(params.get("window", ctx.settings.recent_deploy_window))
    minimum = ctx.model.rollback.min_healthy_time if ctx.model else DEFAULT_MIN_HEALTHY_TIME

    def read(session: Session) -> dict[str, Any] | None:
        try:
            row = registry_service.get_model(session, name=model)
        except FirewatchError:
            return None
        live = registry_service.current_deployment(session, model_id=row.id)
        good = registry_service.last_known_good(
            session, model_id=row.id, min_healthy_time=minimum, now=ctx.clock.now()
        )
        if live is None:
            return {"live": None}
        return {
            "live": live.version.version,
            "previous": live.previous_version.version if live.previous_version else None,
            "deployed_at": live.deployed_at,
            "last_known_good": good.version if good else None,
        }

    found = await ctx.db.read(read)
    if found is None:
        return StepResult(Outcome.FAILED, f"model {model} is not in the registry")
    if found["live"] is None:
        return StepResult(Outcome.FAILED, f"model {model} has no production deployment on record")
    age = ctx.incident.opened_at - found["deployed_at"]
    output = {
        **found,
        "deployed_at": found["deployed_at"].isoformat(),
        "age_s": age.total_seconds(),
    }
    what = f"{found['live']} deployed {format_duration(age)} before the incident"
    if age <= window:
        return StepResult(
            Outcome.PASSED,
            f"likely cause: {what} (replacing {found['previous'] or 'nothing'})",
            output,
        )
    return StepResult(
        Outcome.FAILED,
        f"no deploy in the {format_duration(window)} before the incident ({what})",
        output,
    )


async def rollback_to_last_good(ctx: StepContext, params: dict[str, Any]) -> StepResult:
    """Moves the production alias to the last known good version."""
    model = ctx.incident.model
    if model is None:
        return StepResult(Outcome.FAILED, "the incident names no model")
    now = ctx.clock.now()
    minimum = ctx.model.rollback.min_healthy_time if ctx.model else DEFAULT_MIN_HEALTHY_TIME
    try:
        outcome = await ctx.writer.run(
            lambda s: do_rollback(
                s,
                model=model,
                incident=ctx.incident.display_id,
                actor=ctx.actor,
                now=now,
                min_healthy_time=minimum,
            )
        )
    except FirewatchError as exc:
        return StepResult(Outcome.FAILED, exc.message, {"code": exc.code})
    output = {"from": outcome.from_version, "to": outcome.to_version}
    return await follow_registry(
        ctx,
        model=model,
        version=outcome.to_version,
        previous=outcome.from_version,
        action="rollback",
        done=f"Rolled back {model} from {outcome.from_version} to {outcome.to_version}",
        output=output,
    )
