"""Runbook runs as stored: queueing a run on an incident, the runs of an incident, and a
person's decisions on a waiting step (approve or reject a proposed action, tick or skip a
checklist item) — shared by the engine, the API and the CLI."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from firewatch.errors import Conflict, FirewatchError, NotFound
from firewatch.incidents import service as incident_service
from firewatch.incidents.lifecycle import Status
from firewatch.incidents.models import IncidentRow
from firewatch.incidents.service import Actor
from firewatch.incidents.timeline import TimelineKind, record
from firewatch.runbooks.library import RunbookLibrary
from firewatch.runbooks.models import RunbookRunRow
from firewatch.runbooks.schema import Outcome, StepType
from firewatch.store import jobs as job_table

RUN_JOB = "runbook.run"
ACTOR = "firewatch:runbook"

DECISIONS = {
    "approve": ("approved", TimelineKind.ACTION_APPROVED),
    "reject": ("rejected", TimelineKind.ACTION_REJECTED),
    "done": ("done", TimelineKind.MANUAL_STEP_DONE),
    "skip": ("skipped", TimelineKind.MANUAL_STEP_DONE),
}
"""What a person can decide on a waiting step: approve/reject a proposed action, tick (done) or
skip a checklist item."""


def start_run(
    session: Session,
    *,
    library: RunbookLibrary,
    incident: IncidentRow,
    name: str,
    now: datetime,
    actor: str = ACTOR,
) -> bool:
    """Queue a run of runbook ``name`` on the incident; False when it already has one.

    A runbook that cannot run (unknown, or its file is broken) is said on the timeline and
    escalated: a person has to do what it would have done."""
    try:
        library.get(name)
    except FirewatchError as exc:
        cannot_run(session, incident, name, exc.message, now)
        return False
    if run_row(session, incident.id, name) is not None:
        return False
    queued = job_table.enqueue_job(
        session,
        kind=RUN_JOB,
        key=f"runbook:{incident.id}:{name}",
        payload={"incident_id": incident.id, "runbook": name},
        due_at=now,
        now=now,
        max_attempts=3,
        incident_id=incident.id,
    )
    if queued and actor != ACTOR:  # run by hand: say who asked
        text = f"Runbook {name} started by {actor}"
        record(session, incident, kind=TimelineKind.NOTE, text=text, actor=actor, at=now)
    return queued


def cannot_run(session: Session, incident: IncidentRow, name: str, why: str, now: datetime) -> None:
    text = f"Runbook {name} cannot run: {why}"
    record(session, incident, kind=TimelineKind.NOTE, text=text, actor=ACTOR, at=now)
    if Status(incident.status).is_open:
        incident_service.escalate(
            session,
            incident=incident,
            reason=f"{text} — do its steps by hand (`firewatch runbook show {name}`)",
            actor=Actor(ACTOR, human=False),
            now=now,
        )


def decide(
    session: Session,
    *,
    library: RunbookLibrary,
    now: datetime,
    incident: IncidentRow,
    runbook: str,
    step: str,
    decision: str,
    actor: str,
    note: str = "",
) -> RunbookRunRow:
    """A person approves/rejects a proposed action or ticks/skips a checklist item; the run
    continues. Conflict when the step is not waiting for that decision."""
    if decision not in DECISIONS:
        raise Conflict(f"unknown decision {decision!r} (use: {', '.join(DECISIONS)})")
    run = run_row(session, incident.id, runbook)
    if run is None:
        raise NotFound(
            f"runbook {runbook} has not run on {incident.display_id}", code="unknown_run"
        )
    book = library.get(runbook)
    if step not in [s.id for s in book.steps]:
        known = ", ".join(s.id for s in book.steps)
        raise NotFound(f"runbook {runbook} has no step {step!r} (steps: {known})")
    definition = book.steps[book.index_of(step)]
    approval = decision in ("approve", "reject")
    if definition.type in (StepType.CHECK, StepType.ESCALATE):
        raise Conflict(
            f"step {step} is a {definition.type.value} step: Firewatch runs it, nothing to decide"
        )
    if approval != (definition.type is StepType.ACTION):
        verbs = "approve or reject" if definition.type is StepType.ACTION else "done or skip"
        raise Conflict(f"step {step} is a {definition.type.value} step: {verbs} it")
    waiting = run.waiting or {}
    pending = (run.results.get(step) or {}).get("outcome") == Outcome.PENDING.value
    if waiting.get("step") != step and not pending:
        now_waits = (
            f"it waits for step {waiting['step']}" if waiting else f"its status is {run.status}"
        )
        raise Conflict(
            f"runbook {runbook} on {incident.display_id} is not waiting for step {step} "
            f"({now_waits})",
            code="not_waiting",
        )
    word, kind = DECISIONS[decision]
    entry = {"decision": word, "actor": actor, "at": now.isoformat(), "note": note}
    run.decisions = {**run.decisions, step: entry}
    title = definition.title
    text = f"{title}: {word} by {actor}" + (f" — {note}" if note else "")
    details = {"runbook": runbook, "step": step, "decision": word, "note": note}
    record(session, incident, kind=kind, text=text, actor=actor, at=now, details=details)
    if pending and waiting.get("step") != step:  # a checklist item the run did not wait for
        outcome = Outcome.PASSED if word == "done" else Outcome.SKIPPED
        run.results = {
            **run.results,
            step: {"outcome": outcome.value, "summary": f"{word} by {actor}", "output": {}},
        }
        return run
    run.status = "running"
    run.waiting = None
    enqueue_resume(session, incident.id, runbook, f"{word}:{step}", now, now)
    return run


def run_row(session: Session, incident_id: int, runbook: str) -> RunbookRunRow | None:
    return session.scalar(
        select(RunbookRunRow).where(
            RunbookRunRow.incident_id == incident_id, RunbookRunRow.runbook == runbook
        )
    )


def runs_of(session: Session, incident_id: int) -> list[RunbookRunRow]:
    """The runbook runs of an incident, oldest first."""
    return list(
        session.scalars(
            select(RunbookRunRow)
            .where(RunbookRunRow.incident_id == incident_id)
            .order_by(RunbookRunRow.id)
        )
    )


def is_running(session: Session, incident_id: int) -> bool:
    """Whether a runbook is working on the incident now (not waiting for a person)."""
    running = select(RunbookRunRow.id).where(
        RunbookRunRow.incident_id == incident_id, RunbookRunRow.status == "running"
    )
    return session.scalar(running.limit(1)) is not None


def enqueue_resume(
    session: Session, incident_id: int, runbook: str, why: str, due: datetime, now: datetime
) -> None:
    job_table.enqueue_job(
        session,
        kind=RUN_JOB,
        key=f"runbook:{incident_id}:{runbook}:{why}:{now.isoformat()}",
        payload={"incident_id": incident_id, "runbook": runbook},
        due_at=due,
        now=now,
        max_attempts=3,
        incident_id=incident_id,
    )
