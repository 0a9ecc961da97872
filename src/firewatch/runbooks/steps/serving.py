"""After a step moved the registry, make the model's serving system follow through its adapter."""

from __future__ import annotations

from typing import Any

from firewatch.registry.adapters import ServingError, build_adapter
from firewatch.runbooks.schema import Outcome
from firewatch.runbooks.steps.base import StepContext, StepResult


async def follow_registry(
    ctx: StepContext,
    *,
    model: str,
    version: str,
    previous: str | None,
    action: str,
    done: str,
    output: dict[str, Any],
) -> StepResult:
    """PASSED with ``done`` and the adapter's line, or FAILED saying what is still served.

    ``done`` describes the registry move already committed (e.g. "Rolled back iris from v3 to
    v2"); when the adapter fails the registry stays moved, and the summary says so.
    """
    incident = ctx.incident.display_id
    adapter = build_adapter(ctx.model, ctx.client)
    try:
        line = await adapter.apply(
            model=model,
            version=version,
            previous=previous,
            action=action,
            reason=f"{action} for {incident}",
            dry_run=ctx.dry_run,
            incident=incident,
        )
    except ServingError as exc:
        summary = f"Registry moved {model} to {version} but {exc.message}"
        return StepResult(
            Outcome.FAILED,
            summary,
            {**output, "serving": adapter.name, "serving_error": exc.message, "code": exc.code},
        )
    return StepResult(
        Outcome.PASSED, f"{done}; {line}", {**output, "serving": adapter.name, "applied": line}
    )
