"""Alert steps: wait until the incident's alerts have cleared (the signal that opened it is back
to normal, as the detector that fired it sees it)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from firewatch.alerts.models import AlertRow
from firewatch.alerts.schemas import AlertStatus
from firewatch.duration import format_duration, parse_duration
from firewatch.runbooks.schema import Outcome
from firewatch.runbooks.steps.base import StepContext, StepResult


async def alerts_clear(ctx: StepContext, params: dict[str, Any]) -> StepResult:
    """Passes when none of the incident's alerts (or those named in ``alertnames``) still fires,
    checked every ``interval`` (default 2s) until ``deadline`` (default runbooks.verify_timeout).

    Slower than a direct check for signals judged over a window (accuracy over the last
    ``events.window``), but it verifies exactly what paged."""
    names = params.get("alertnames")
    if names is not None and not (
        isinstance(names, list) and all(isinstance(n, str) for n in names)
    ):
        return StepResult(Outcome.FAILED, "parameter alertnames must be a list of alert names")
    deadline = parse_duration(params.get("deadline", ctx.settings.verify_timeout))
    interval = parse_duration(params.get("interval", "2s")).total_seconds()
    incident_id = ctx.incident.id

    def firing(session: Session) -> list[str]:
        query = select(AlertRow.alertname).where(
            AlertRow.incident_id == incident_id, AlertRow.status == AlertStatus.FIRING
        )
        if names:
            query = query.where(AlertRow.alertname.in_(names))
        return sorted(set(session.scalars(query)))

    what = ", ".join(names) if names else "the incident's alerts"
    if ctx.dry_run:
        still = await ctx.db.read(firing)
        return StepResult(
            Outcome.PASSED if not still else Outcome.FAILED,
            f"now firing: {', '.join(still) or 'none'} (would wait up to "
            f"{format_duration(deadline)} for {what} to clear)",
        )
    loop = asyncio.get_running_loop()
    started = loop.time()
    while True:
        still = await ctx.db.read(firing)
        waited = loop.time() - started
        if not still:
            return StepResult(
                Outcome.PASSED, f"{what} cleared after {waited:.0f}s", {"waited_s": waited}
            )
        if waited + interval > deadline.total_seconds():
            return StepResult(
                Outcome.FAILED,
                f"still firing after {format_duration(deadline)}: {', '.join(still)}",
                {"firing": still},
            )
        await asyncio.sleep(interval)
