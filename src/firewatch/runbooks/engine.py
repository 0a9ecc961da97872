"""The runbook engine: starts a run when an incident opens, then runs it step by step as a job.

Progress (step index and results) is saved after every step in the same transaction as the
step's timeline entries, so a run interrupted by a crash resumes at the step it was on (steps
are written to be safe to repeat: a rollback already done for this incident is not redone).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from firewatch.clock import Clock
from firewatch.config import FirewatchConfig
from firewatch.errors import NotFound
from firewatch.incidents import service as incident_service
from firewatch.incidents.lifecycle import Status
from firewatch.incidents.models import IncidentRow
from firewatch.incidents.service import Actor
from firewatch.incidents.timeline import OPENED_EVENT, TimelineKind, record
from firewatch.runbooks.library import RunbookLibrary
from firewatch.runbooks.models import RunbookRunRow
from firewatch.runbooks.schema import Condition, Outcome, Runbook, Step, StepType
from firewatch.runbooks.steps import STEPS, StepContext, StepResult
from firewatch.runbooks.steps.base import IncidentView
from firewatch.store import jobs as job_table
from firewatch.store.db import Database
from firewatch.store.events import Event
from firewatch.store.jobs import Job
from firewatch.store.writer import Writer

CONSUMER = "runbooks"
RUN_JOB = "runbook.run"
ACTOR = "firewatch:runbook"


@dataclass(frozen=True)
class RunState:
    step_index: int
    results: dict[str, dict[str, Any]]
    mitigated: bool


def condition_holds(
    condition: Condition, results: dict[str, dict[str, Any]], mitigated: bool
) -> bool:
    if condition.mitigated is not None:
        return mitigated == condition.mitigated
    outcome = results.get(condition.step or "", {}).get("outcome", Outcome.SKIPPED.value)
    return outcome in {o.value for o in condition.outcome}


@dataclass
class RunbookEngine:
    library: RunbookLibrary
    config: FirewatchConfig
    db: Database
    writer: Writer
    clock: Clock
    client: httpx.AsyncClient

    types = frozenset({OPENED_EVENT})

    def on_event(self, session: Session, event: Event) -> None:
        """Consumer handler: an opened incident with a runbook gets a run job."""
        incident = session.get(IncidentRow, event.incident_id) if event.incident_id else None
        if incident is None or not incident.runbook:
            return
        now = self.clock.now()
        try:
            self.library.get(incident.runbook)
        except NotFound as exc:
            record(session, incident, kind=TimelineKind.NOTE, text=exc.message, actor=ACTOR, at=now)
            return
        job_table.enqueue_job(
            session,
            kind=RUN_JOB,
            key=f"runbook:{incident.id}:{incident.runbook}",
            payload={"incident_id": incident.id, "runbook": incident.runbook},
            due_at=now,
            now=now,
            max_attempts=3,
            incident_id=incident.id,
        )

    async def run_job(self, job: Job) -> None:
        """Job handler: run (or resume) the runbook on the incident."""
        runbook = self.library.get(job.payload["runbook"])
        incident_id = int(job.payload["incident_id"])
        state = await self.writer.run(lambda s: self._start(s, incident_id, runbook))
        for index in range(state.step_index, len(runbook.steps)):
            view = await asyncio.to_thread(self._view, incident_id)
            if not Status(view.status).is_open:
                why = f"stopped: incident is {view.status}"
                finish = partial(
                    self._finish, incident_id=incident_id, runbook=runbook, summary=why
                )
                await self.writer.run(finish)
                return
            step = runbook.steps[index]
            state = await self._run_step(runbook, step, index, view, state)
        summary = "mitigated" if state.mitigated else "did not mitigate; escalated"
        await self.writer.run(lambda s: self._finish(s, incident_id, runbook, summary))

    async def _run_step(
        self, runbook: Runbook, step: Step, index: int, view: IncidentView, state: RunState
    ) -> RunState:
        if not all(condition_holds(c, state.results, state.mitigated) for c in step.when):
            result = StepResult(Outcome.SKIPPED, "condition not met")
            return await self.writer.run(
                lambda s: self._save(
                    s, view.id, runbook, index, step, result, state, record_it=False
                )
            )
        if step.type is StepType.ACTION:
            await self.writer.run(lambda s: self._started(s, view.id, runbook, step))
        result = await self._execute(step, view, state)
        return await self.writer.run(
            lambda s: self._save(s, view.id, runbook, index, step, result, state, record_it=True)
        )

    async def _execute(self, step: Step, view: IncidentView, state: RunState) -> StepResult:
        if step.type is StepType.ESCALATE:
            return StepResult(Outcome.PASSED, _escalation_reason(step, state))
        implementation = STEPS.get(step.uses or "")
        if implementation is None:
            return StepResult(Outcome.FAILED, f"unknown step implementation {step.uses!r}")
        context = StepContext(
            incident=view,
            model=self.config.model(view.model) if view.model else None,
            settings=self.config.runbooks,
            db=self.db,
            writer=self.writer,
            clock=self.clock,
            client=self.client,
            actor=ACTOR,
            config=self.config,
        )
        try:
            async with asyncio.timeout(step.timeout.total_seconds()):
                return await implementation(context, step.params)
        except TimeoutError:
            return StepResult(Outcome.FAILED, f"timed out after {step.timeout.total_seconds():g}s")
        except Exception as exc:  # a broken step fails visibly instead of killing the run
            return StepResult(Outcome.FAILED, f"step raised {type(exc).__name__}: {exc}")

    def _view(self, incident_id: int) -> IncidentView:
        with self.db.read_session() as session:
            row = session.get(IncidentRow, incident_id)
            if row is None:
                raise NotFound(f"incident {incident_id} vanished")
            return IncidentView(
                row.id,
                row.display_id,
                row.model,
                row.model_version,
                row.opened_at,
                row.status,
                severity=row.severity,
                labels=dict(row.labels or {}),
            )

    def _run_row(
        self, session: Session, incident_id: int, runbook: Runbook
    ) -> RunbookRunRow | None:
        return session.scalar(
            select(RunbookRunRow).where(
                RunbookRunRow.incident_id == incident_id, RunbookRunRow.runbook == runbook.name
            )
        )

    def _start(self, session: Session, incident_id: int, runbook: Runbook) -> RunState:
        run = self._run_row(session, incident_id, runbook)
        if run is None:
            now = self.clock.now()
            run = RunbookRunRow(
                incident_id=incident_id,
                runbook=runbook.name,
                status="running",
                step_index=0,
                results={},
                started_at=now,
            )
            session.add(run)
            incident = session.get(IncidentRow, incident_id)
            if incident is not None:
                record(
                    session,
                    incident,
                    kind=TimelineKind.RUNBOOK_STARTED,
                    text=f"Runbook {runbook.name} started: {runbook.title}",
                    actor=ACTOR,
                    at=now,
                    details={"runbook": runbook.name, "steps": [s.id for s in runbook.steps]},
                )
        return RunState(run.step_index, dict(run.results), run.mitigated)

    def _started(self, session: Session, incident_id: int, runbook: Runbook, step: Step) -> None:
        incident = session.get(IncidentRow, incident_id)
        if incident is not None:
            record(
                session,
                incident,
                kind=TimelineKind.ACTION_STARTED,
                text=f"{step.title}",
                actor=ACTOR,
                at=self.clock.now(),
                details={"runbook": runbook.name, "step": step.id, "uses": step.uses},
            )

    def _save(
        self,
        session: Session,
        incident_id: int,
        runbook: Runbook,
        index: int,
        step: Step,
        result: StepResult,
        state: RunState,
        *,
        record_it: bool,
    ) -> RunState:
        now = self.clock.now()
        results = {
            **state.results,
            step.id: {"outcome": result.outcome.value, "summary": result.summary},
        }
        mitigated = state.mitigated
        incident = session.get(IncidentRow, incident_id)
        if incident is not None and record_it:
            self._record_step(session, incident, runbook, step, result, now)
            if result.outcome is Outcome.PASSED and step.on_pass == "mitigate":
                mitigated = self._mitigate(session, incident, step, result, now) or mitigated
        run = self._run_row(session, incident_id, runbook)
        if run is not None:
            run.step_index = index + 1
            run.results = results
            run.mitigated = mitigated
        return RunState(index + 1, results, mitigated)

    def _record_step(
        self,
        session: Session,
        incident: IncidentRow,
        runbook: Runbook,
        step: Step,
        result: StepResult,
        now: datetime,
    ) -> None:
        details = {
            "runbook": runbook.name,
            "step": step.id,
            "outcome": result.outcome.value,
            "output": result.output,
        }
        if step.type is StepType.ESCALATE:
            if Status(incident.status).is_open:
                incident_service.escalate(
                    session,
                    incident=incident,
                    reason=result.summary,
                    actor=Actor(ACTOR, human=False),
                    now=now,
                    details=details,
                )
            return
        if step.type is StepType.ACTION:
            passed = result.outcome is Outcome.PASSED
            kind = TimelineKind.ACTION_SUCCEEDED if passed else TimelineKind.ACTION_FAILED
            text = result.summary if passed else f"{step.title} failed: {result.summary}"
        elif step.verifies_alert and result.outcome is Outcome.PASSED:
            kind, text = TimelineKind.VERIFIED, f"Alert verified: {result.summary}"
        else:
            kind, text = TimelineKind.CHECK, f"{step.title}: {result.summary}"
        record(session, incident, kind=kind, text=text, actor=ACTOR, at=now, details=details)

    def _mitigate(
        self, session: Session, incident: IncidentRow, step: Step, result: StepResult, now: datetime
    ) -> bool:
        if Status(incident.status) not in (
            Status.TRIGGERED,
            Status.ACKNOWLEDGED,
            Status.INVESTIGATING,
        ):
            return Status(incident.status) is Status.MITIGATED
        incident_service.transition(
            session,
            incident=incident,
            to=Status.MITIGATED,
            actor=Actor(ACTOR, human=False),
            now=now,
            note=result.summary,
        )
        return True

    def _finish(self, session: Session, incident_id: int, runbook: Runbook, summary: str) -> None:
        run = self._run_row(session, incident_id, runbook)
        if run is None or run.status == "finished":
            return
        now = self.clock.now()
        run.status = "finished"
        run.finished_at = now
        incident = session.get(IncidentRow, incident_id)
        if incident is not None:
            record(
                session,
                incident,
                kind=TimelineKind.RUNBOOK_FINISHED,
                text=f"Runbook {runbook.name} finished: {summary}",
                actor=ACTOR,
                at=now,
                details={"runbook": runbook.name, "results": run.results},
            )


def _escalation_reason(step: Step, state: RunState) -> str:
    if reason := step.params.get("reason"):
        return str(reason)
    failed = [
        f"{name}: {r['summary']}" for name, r in state.results.items() if r["outcome"] == "failed"
    ]
    return "automation did not mitigate" + (" — " + "; ".join(failed) if failed else "")
