"""Drill runs in the database: start (the model's incidents are drills from now on), finish with
the measured result, list, and which drills are running (for marking incidents as they open)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from firewatch.drills.models import ABANDONED, FINISHED, RUNNING, DrillRunRow
from firewatch.drills.scenarios import get_scenario
from firewatch.drills.schemas import DrillFinishIn, DrillRunOut, DrillStartIn, DrillTrigger
from firewatch.errors import Conflict, NotFound
from firewatch.incidents.service import DrillMark


def start_drill(session: Session, *, drill: DrillStartIn, actor: str, now: datetime) -> DrillRunRow:
    """Register a running drill on ``drill.model`` (409 when another one runs there)."""
    get_scenario(drill.scenario)
    _abandon_overdue(session, model=drill.model, now=now)
    other = session.scalar(
        select(DrillRunRow).where(DrillRunRow.model == drill.model, DrillRunRow.status == RUNNING)
    )
    if other is not None:
        raise Conflict(
            f"drill #{other.id} ({other.scenario}) is already running on {drill.model} since "
            f"{other.started_at:%H:%M:%S} UTC; one drill per model at a time",
            code="drill_running",
            details={"drill": other.id},
        )
    row = DrillRunRow(
        scenario=drill.scenario,
        model=drill.model,
        trigger=drill.trigger.value,
        status=RUNNING,
        actor=actor,
        game_day=drill.game_day,
        started_at=now,
        deadline_at=now + timedelta(seconds=drill.time_limit_s),
        times={},
        failures=[],
        details={},
    )
    session.add(row)
    session.flush()
    return row


def _abandon_overdue(session: Session, *, model: str, now: datetime) -> None:
    session.execute(
        update(DrillRunRow)
        .where(
            DrillRunRow.model == model,
            DrillRunRow.status == RUNNING,
            DrillRunRow.deadline_at < now,
        )
        .values(status=ABANDONED, finished_at=now)
    )


def finish_drill(
    session: Session, *, run_id: int, result: DrillFinishIn, now: datetime
) -> DrillRunRow:
    """Record the result; the drill no longer marks incidents (409 if it already finished)."""
    row = get_drill(session, run_id=run_id)
    if row.status == FINISHED:
        raise Conflict(f"drill #{run_id} already finished", code="drill_finished")
    row.status = FINISHED
    row.finished_at = now
    row.outcome = result.outcome.value
    row.incident_ref = result.incident
    row.severity = result.severity
    row.runbook = result.runbook
    row.times = dict(result.times)
    row.failures = list(result.failures)
    row.details = dict(result.details)
    return row


def get_drill(session: Session, *, run_id: int) -> DrillRunRow:
    row = session.get(DrillRunRow, run_id)
    if row is None:
        raise NotFound(f"no drill #{run_id}", code="unknown_drill")
    return row


def list_drills(
    session: Session,
    *,
    scenario: str | None = None,
    model: str | None = None,
    trigger: DrillTrigger | None = None,
    game_day: str | None = None,
    limit: int = 50,
) -> list[DrillRunRow]:
    """Newest first."""
    query = select(DrillRunRow).order_by(DrillRunRow.started_at.desc(), DrillRunRow.id.desc())
    if scenario:
        query = query.where(DrillRunRow.scenario == scenario)
    if model:
        query = query.where(DrillRunRow.model == model)
    if trigger:
        query = query.where(DrillRunRow.trigger == trigger.value)
    if game_day:
        query = query.where(DrillRunRow.game_day == game_day)
    return list(session.scalars(query.limit(limit)))


def latest_game_day(session: Session) -> str | None:
    """The game day of the most recent drill that was part of one."""
    return session.scalar(
        select(DrillRunRow.game_day)
        .where(DrillRunRow.game_day.is_not(None), DrillRunRow.status == FINISHED)
        .order_by(DrillRunRow.started_at.desc())
        .limit(1)
    )


def running_drills(session: Session, *, now: datetime) -> dict[str, DrillMark]:
    """The drill running on each model now (overdue ones no longer count)."""
    rows = session.execute(
        select(DrillRunRow.model, DrillRunRow.id, DrillRunRow.scenario).where(
            DrillRunRow.status == RUNNING, DrillRunRow.deadline_at >= now
        )
    )
    return {model: DrillMark(run_id, scenario) for model, run_id, scenario in rows}


def to_schema(row: DrillRunRow) -> DrillRunOut:
    return DrillRunOut(
        id=row.id,
        scenario=row.scenario,
        model=row.model,
        trigger=row.trigger,
        status=row.status,
        outcome=row.outcome,
        actor=row.actor,
        game_day=row.game_day,
        started_at=row.started_at,
        deadline_at=row.deadline_at,
        finished_at=row.finished_at,
        incident=row.incident_ref,
        severity=row.severity,
        runbook=row.runbook,
        times=dict(row.times or {}),
        failures=list(row.failures or []),
        details=dict(row.details or {}),
    )
