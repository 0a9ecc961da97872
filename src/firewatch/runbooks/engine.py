"""The runbook engine: starts a run when an incident opens (or an alert bound to another runbook
joins it), then runs it step by step as a durable job.

Progress (step index, results, a person's decisions) is saved after every step in the same
transaction as the step's timeline entries, so a run interrupted by a crash resumes at the step
it was on (steps are written to be safe to repeat: a rollback already done for this incident is
not redone).

A run *waits* — its job ends, nothing is held in memory — when an action needs a person's
approval (``runbooks.policy``) or a blocking checklist item is not ticked yet. A decision
(`decide`, from the API or CLI) or the wait's deadline enqueues the run again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import httpx
from sqlalchemy.orm import Session

from firewatch.clock import Clock
from firewatch.config import FirewatchConfig
from firewatch.duration import format_duration
from firewatch.errors import FirewatchError, NotFound
from firewatch.incidents import service as incident_service
from firewatch.incidents.lifecycle import Status
from firewatch.incidents.models import IncidentRow
from firewatch.incidents.service import Actor
from firewatch.incidents.timeline import OPENED_EVENT, TimelineKind, event_type_for, record
from firewatch.runbooks import runs
from firewatch.runbooks.library import RunbookLibrary
from firewatch.runbooks.models import RunbookRunRow
from firewatch.runbooks.runs import ACTOR
from firewatch.runbooks.schema import Condition, Outcome, Runbook, Step, StepType
from firewatch.runbooks.steps import ACTION_KINDS, STEPS, StepContext, StepResult
from firewatch.runbooks.steps.base import EvidenceSources, IncidentView
from firewatch.severity import Severity
from firewatch.store.db import Database
from firewatch.store.events import Event
from firewatch.store.jobs import Job
from firewatch.store.writer import Writer

CONSUMER = "runbooks"
ATTACHED_EVENT = event_type_for(TimelineKind.ALERT_ATTACHED)


@dataclass(frozen=True)
class RunState:
    step_index: int
    results: dict[str, dict[str, Any]]
    mitigated: bool
    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)
    waiting: dict[str, Any] | None = None
    finished: bool = False


def condition_holds(
    condition: Condition, results: dict[str, dict[str, Any]], mitigated: bool, severity: str
) -> bool:
    if condition.mitigated is not None:
        return mitigated == condition.mitigated
    if condition.severity is not None:
        return severity in {s.value for s in condition.severity}
    result = results.get(condition.step or "", {})
    if result.get("outcome", Outcome.SKIPPED.value) not in {o.value for o in condition.outcome}:
        return False
    output = result.get("output") or {}
    return all(output.get(k) == v for k, v in (condition.output or {}).items())


def action_kind(step: Step) -> str:
    """The policy kind of an action step (``hook`` actions say theirs in ``action``)."""
    kind = ACTION_KINDS.get(step.uses or "", "custom")
    if kind == "hook":
        return str(step.params.get("action", "custom"))
    return kind


def approve_command(display_id: str, step: Step) -> str:
    return f"firewatch runbook approve {display_id} {step.id}"


@dataclass(frozen=True)
class PlannedStep:
    """One step of a dry run: what would happen, and who would do it."""

    step: str
    title: str
    type: str
    mode: str  # automatic | needs approval | manual | escalation
    outcome: str
    summary: str


@dataclass
class RunbookEngine:
    library: RunbookLibrary
    config: FirewatchConfig
    db: Database
    writer: Writer
    clock: Clock
    client: httpx.AsyncClient
    evidence: EvidenceSources | None = None
    _locks: dict[tuple[int, str], asyncio.Lock] = field(default_factory=dict)

    types = frozenset({OPENED_EVENT, ATTACHED_EVENT})

    # -- starting runs ---------------------------------------------------------------------

    def on_event(self, session: Session, event: Event) -> None:
        """Consumer handler: an opened incident runs its runbook; an alert bound to another
        runbook that joins an open incident runs that one too (once per incident)."""
        incident = session.get(IncidentRow, event.incident_id) if event.incident_id else None
        if incident is None:
            return
        if event.type == OPENED_EVENT:
            if incident.runbook:
                self.start(session, incident, incident.runbook)
            return
        if not Status(incident.status).is_open:
            return
        alerts = (event.payload.get("details") or {}).get("alerts") or []
        names = {str((a.get("labels") or {}).get("alertname", "")) for a in alerts}
        for name in sorted(self._runbooks_for(names) - {incident.runbook or ""}):
            self.start(session, incident, name)

    def _runbooks_for(self, alertnames: Iterable[str]) -> set[str]:
        return {r for name in alertnames if (r := self.library.for_alert(name))}

    def start(
        self, session: Session, incident: IncidentRow, name: str, *, actor: str = ACTOR
    ) -> bool:
        return runs.start_run(
            session,
            library=self.library,
            incident=incident,
            name=name,
            now=self.clock.now(),
            actor=actor,
        )

    # -- running ---------------------------------------------------------------------------

    async def run_job(self, job: Job) -> None:
        """Job handler: run (or resume) the runbook on the incident until it ends or waits."""
        name = str(job.payload["runbook"])
        incident_id = int(job.payload["incident_id"])
        try:
            runbook = self.library.get(name)
        except FirewatchError as exc:
            why = exc.message
            await self.writer.run(lambda s: self._cannot_run_id(s, incident_id, name, why))
            return
        lock = self._locks.setdefault((incident_id, name), asyncio.Lock())
        async with lock:
            await self._run(runbook, incident_id)

    def _cannot_run_id(self, session: Session, incident_id: int, name: str, why: str) -> None:
        incident = session.get(IncidentRow, incident_id)
        if incident is not None:
            runs.cannot_run(session, incident, name, why, self.clock.now())

    async def _run(self, runbook: Runbook, incident_id: int) -> None:
        state = await self.writer.run(lambda s: self._start(s, incident_id, runbook))
        while not state.finished and state.step_index < len(runbook.steps):
            view = await asyncio.to_thread(self._view, incident_id)
            if not Status(view.status).is_open:
                stopped = f"stopped: incident is {view.status}"
                await self.writer.run(
                    partial(self._finish, incident_id=incident_id, runbook=runbook, summary=stopped)
                )
                return
            step = runbook.steps[state.step_index]
            advanced = await self._advance(runbook, step, view, state)
            if advanced is None:  # waiting for a person, or the deadline of the wait
                return
            state = advanced
        if not state.finished:
            summary = "mitigated" if state.mitigated else "did not mitigate"
            await self.writer.run(lambda s: self._finish(s, incident_id, runbook, summary))

    async def _advance(
        self, runbook: Runbook, step: Step, view: IncidentView, state: RunState
    ) -> RunState | None:
        """Run one step; None when the run now waits."""
        if not all(
            condition_holds(c, state.results, state.mitigated, view.severity) for c in step.when
        ):
            result = StepResult(Outcome.SKIPPED, "condition not met")
            return await self._save(view, runbook, step, result, state, record_it=False)
        if step.type is StepType.MANUAL:
            return await self._manual(runbook, step, view, state)
        if step.type is StepType.ACTION and self._needs_approval(step, view):
            decision = state.decisions.get(step.id)
            if decision is None:
                return await self._wait_for_approval(runbook, step, view, state)
            if decision["decision"] != "approved":
                result = StepResult(Outcome.SKIPPED, _decided(decision))
                return await self._save(view, runbook, step, result, state, record_it=False)
        if step.type is StepType.ACTION:
            await self.writer.run(lambda s: self._started(s, view.id, runbook, step))
        if step.type is StepType.ESCALATE:
            result = StepResult(Outcome.PASSED, _escalation_reason(step, state))
        else:
            result = await self._execute(step, view)
        return await self._save(view, runbook, step, result, state, record_it=True)

    def _needs_approval(self, step: Step, view: IncidentView) -> bool:
        if step.approval is not None:
            return step.approval
        return not self.config.runbooks.policy.allows(Severity(view.severity), action_kind(step))

    async def _wait_for_approval(
        self, runbook: Runbook, step: Step, view: IncidentView, state: RunState
    ) -> RunState | None:
        if state.waiting is not None:  # woken without a decision: is the wait over?
            return await self._wait_expired(runbook, step, view, state, "approved")
        plan = await self._execute(step, view, dry_run=True)
        if plan.outcome is not Outcome.PASSED:  # nothing to do, or it cannot: no one to ask
            return await self._save(view, runbook, step, plan, state, record_it=True)
        timeout = step.timeout or self.config.runbooks.policy.approval_timeout
        kind = action_kind(step)
        text = (
            f"Proposed: {step.title} — {plan.summary}. Policy does not let a {kind} run "
            f"alone for {view.severity}; approve with `{approve_command(view.display_id, step)}` "
            f"(or reject) within {_human(timeout)}"
        )
        await self._begin_wait(
            view, runbook, step, TimelineKind.ACTION_PROPOSED, text, "approval", timeout, plan
        )
        return None

    async def _manual(
        self, runbook: Runbook, step: Step, view: IncidentView, state: RunState
    ) -> RunState | None:
        decision = state.decisions.get(step.id)
        if decision is not None:
            outcome = Outcome.PASSED if decision["decision"] == "done" else Outcome.SKIPPED
            result = StepResult(outcome, _decided(decision))
            return await self._save(view, runbook, step, result, state, record_it=False)
        if not step.blocking:
            text = f"Checklist: {step.title}" + (f" — {step.details}" if step.details else "")
            await self.writer.run(
                lambda s: self._entry(
                    s,
                    view.id,
                    TimelineKind.MANUAL_STEP,
                    text + f" (tick with `firewatch runbook done {view.display_id} {step.id}`)",
                    {"runbook": runbook.name, "step": step.id, "blocking": False},
                )
            )
            result = StepResult(Outcome.PENDING, "waiting for a person to tick it")
            return await self._save(view, runbook, step, result, state, record_it=False)
        if state.waiting is not None:
            return await self._wait_expired(runbook, step, view, state, "ticked")
        text = (
            f"Checklist (the runbook waits for it): {step.title}"
            + (f" — {step.details}" if step.details else "")
            + f". Tick with `firewatch runbook done {view.display_id} {step.id}` "
            f"(or `skip`) within {_human(step.time_limit)}"
        )
        await self._begin_wait(
            view, runbook, step, TimelineKind.MANUAL_STEP, text, "manual", step.time_limit, None
        )
        return None

    async def _wait_expired(
        self, runbook: Runbook, step: Step, view: IncidentView, state: RunState, what: str
    ) -> RunState | None:
        assert state.waiting is not None
        due = datetime.fromisoformat(str(state.waiting["due"]))
        if self.clock.now() < due:
            return None  # still waiting (an early wake-up)
        waited = _human(due - datetime.fromisoformat(str(state.waiting["since"])))
        result = StepResult(Outcome.FAILED, f"not {what} within {waited}")
        return await self._save(view, runbook, step, result, state, record_it=True)

    async def _begin_wait(
        self,
        view: IncidentView,
        runbook: Runbook,
        step: Step,
        kind: TimelineKind,
        text: str,
        waiting_for: str,
        timeout: timedelta,
        plan: StepResult | None,
    ) -> None:
        def unit(session: Session) -> None:
            now = self.clock.now()
            due = now + timeout
            details = {
                "runbook": runbook.name,
                "step": step.id,
                "waits_for": waiting_for,
                "due": due.isoformat(),
                **({"plan": plan.summary, "output": plan.output} if plan else {}),
            }
            self._entry(session, view.id, kind, text, details)
            run = self._run_row(session, view.id, runbook.name)
            if run is not None:
                run.status = "waiting"
                run.waiting = {
                    "step": step.id,
                    "kind": waiting_for,
                    "since": now.isoformat(),
                    "due": due.isoformat(),
                }
            runs.enqueue_resume(session, view.id, runbook.name, f"due:{step.id}", due, now)

        await self.writer.run(unit)

    async def _execute(
        self, step: Step, view: IncidentView, *, dry_run: bool = False
    ) -> StepResult:
        implementation = STEPS.get(step.uses or "")
        if implementation is None:
            known = ", ".join(sorted(STEPS))
            return StepResult(
                Outcome.FAILED,
                f"unknown step implementation {step.uses!r} (known: {known})",
                broken=True,
            )
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
            evidence=self.evidence,
            dry_run=dry_run,
        )
        limit = step.time_limit.total_seconds()
        try:
            async with asyncio.timeout(limit):
                return await implementation(context, step.params)
        except TimeoutError:
            return StepResult(
                Outcome.FAILED, f"timed out after {_human(step.time_limit)}", broken=True
            )
        except Exception as exc:  # a broken step fails visibly instead of killing the run
            return StepResult(
                Outcome.FAILED, f"step raised {type(exc).__name__}: {exc}", broken=True
            )

    # -- dry run ---------------------------------------------------------------------------

    async def plan(
        self, runbook: Runbook, *, model: str | None, severity: Severity, display_id: str
    ) -> list[PlannedStep]:
        """Walk the runbook without changing anything: checks run (they only read), actions say
        what they would do and whether policy lets them run alone, nothing is recorded."""
        view = IncidentView(
            0, display_id, model, None, self.clock.now(), Status.TRIGGERED.value, severity.value
        )
        state = RunState(0, {}, False)
        planned: list[PlannedStep] = []
        index = 0
        while index < len(runbook.steps):
            step = runbook.steps[index]
            mode = {
                StepType.CHECK: "automatic",
                StepType.MANUAL: "manual",
                StepType.ESCALATE: "escalation",
            }.get(step.type, "automatic")
            if step.type is StepType.ACTION and self._needs_approval(step, view):
                mode = "needs approval"
            if not all(
                condition_holds(c, state.results, state.mitigated, view.severity) for c in step.when
            ):
                result = StepResult(Outcome.SKIPPED, "condition not met")
            elif step.type is StepType.MANUAL:
                result = StepResult(Outcome.PENDING, step.details or "a person ticks it")
            elif step.type is StepType.ESCALATE:
                result = StepResult(
                    Outcome.PASSED, "would escalate: " + _escalation_reason(step, state)
                )
            else:
                result = await self._execute(step, view, dry_run=True)
            planned.append(
                PlannedStep(
                    step.id, step.title, step.type.value, mode, result.outcome.value, result.summary
                )
            )
            mitigated = state.mitigated or (
                result.outcome is Outcome.PASSED and step.on_pass == "mitigate"
            )
            results = {**state.results, step.id: _result_entry(result)}
            state = RunState(index + 1, results, mitigated)
            index = self._next_index(runbook, step, result, index)
        return planned

    # -- persistence -----------------------------------------------------------------------

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

    def _run_row(self, session: Session, incident_id: int, runbook: str) -> RunbookRunRow | None:
        return runs.run_row(session, incident_id, runbook)

    def _start(self, session: Session, incident_id: int, runbook: Runbook) -> RunState:
        run = self._run_row(session, incident_id, runbook.name)
        if run is None:
            now = self.clock.now()
            run = RunbookRunRow(
                incident_id=incident_id,
                runbook=runbook.name,
                status="running",
                step_index=0,
                results={},
                decisions={},
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
        return RunState(
            run.step_index,
            dict(run.results),
            run.mitigated,
            dict(run.decisions or {}),
            run.waiting,
            run.status == "finished",
        )

    def _entry(
        self,
        session: Session,
        incident_id: int,
        kind: TimelineKind,
        text: str,
        details: dict[str, Any],
    ) -> None:
        incident = session.get(IncidentRow, incident_id)
        if incident is not None:
            record(
                session,
                incident,
                kind=kind,
                text=text,
                actor=ACTOR,
                at=self.clock.now(),
                details=details,
            )

    def _started(self, session: Session, incident_id: int, runbook: Runbook, step: Step) -> None:
        details = {"runbook": runbook.name, "step": step.id, "uses": step.uses}
        self._entry(session, incident_id, TimelineKind.ACTION_STARTED, step.title, details)

    async def _save(
        self,
        view: IncidentView,
        runbook: Runbook,
        step: Step,
        result: StepResult,
        state: RunState,
        *,
        record_it: bool,
    ) -> RunState:
        return await self.writer.run(
            lambda s: self._save_unit(s, view.id, runbook, step, result, state, record_it)
        )

    def _save_unit(
        self,
        session: Session,
        incident_id: int,
        runbook: Runbook,
        step: Step,
        result: StepResult,
        state: RunState,
        record_it: bool,
    ) -> RunState:
        now = self.clock.now()
        results = {**state.results, step.id: _result_entry(result)}
        mitigated = state.mitigated
        incident = session.get(IncidentRow, incident_id)
        if incident is not None and record_it:
            self._record_step(session, incident, runbook, step, result, now)
            if result.outcome is Outcome.PASSED and step.on_pass == "mitigate":
                mitigated = self._mitigate(session, incident, result, now) or mitigated
        index = self._next_index(runbook, step, result, runbook.index_of(step.id))
        run = self._run_row(session, incident_id, runbook.name)
        if run is not None:
            run.step_index = index
            run.results = results
            run.mitigated = mitigated
            run.status = "running"
            run.waiting = None
        return replace(state, step_index=index, results=results, mitigated=mitigated, waiting=None)

    @staticmethod
    def _next_index(runbook: Runbook, step: Step, result: StepResult, index: int) -> int:
        target = step.next.get(result.outcome)
        return runbook.index_of(target) if target else index + 1

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
        if step.type is StepType.ACTION and result.outcome is Outcome.SKIPPED:
            kind, text = TimelineKind.CHECK, f"{step.title}: skipped — {result.summary}"
        elif step.type is StepType.ACTION:
            passed = result.outcome is Outcome.PASSED
            kind = TimelineKind.ACTION_SUCCEEDED if passed else TimelineKind.ACTION_FAILED
            text = result.summary if passed else f"{step.title} failed: {result.summary}"
        elif step.verifies_alert and result.outcome is Outcome.PASSED:
            kind, text = TimelineKind.VERIFIED, f"Alert verified: {result.summary}"
        else:
            kind, text = TimelineKind.CHECK, f"{step.title}: {result.summary}"
        record(session, incident, kind=kind, text=text, actor=ACTOR, at=now, details=details)

    def _mitigate(
        self, session: Session, incident: IncidentRow, result: StepResult, now: datetime
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
        run = self._run_row(session, incident_id, runbook.name)
        if run is None or run.status == "finished":
            return
        now = self.clock.now()
        run.status = "finished"
        run.waiting = None
        run.finished_at = now
        incident = session.get(IncidentRow, incident_id)
        if incident is None:
            return
        failed = _failures(run.results, runbook)
        escalated = any(
            s.type is StepType.ESCALATE
            and (run.results.get(s.id) or {}).get("outcome") == Outcome.PASSED.value
            for s in runbook.steps
        )
        record(
            session,
            incident,
            kind=TimelineKind.RUNBOOK_FINISHED,
            text=f"Runbook {runbook.name} finished: {summary}"
            + (f" ({len(failed)} step(s) failed)" if failed else ""),
            actor=ACTOR,
            at=now,
            details={"runbook": runbook.name, "results": run.results},
        )
        # Nothing is silently skipped: a failed step that no escalate step answered escalates.
        if failed and not run.mitigated and not escalated and Status(incident.status).is_open:
            incident_service.escalate(
                session,
                incident=incident,
                reason=f"runbook {runbook.name} did not mitigate — " + "; ".join(failed),
                actor=Actor(ACTOR, human=False),
                now=now,
            )


def _decided(decision: dict[str, Any]) -> str:
    """A person's decision as a step summary: "rejected by jane_roe: not now"."""
    note = f": {decision['note']}" if decision.get("note") else ""
    return f"{decision['decision']} by {decision['actor']}{note}"


def _result_entry(result: StepResult) -> dict[str, Any]:
    entry = {"outcome": result.outcome.value, "summary": result.summary, "output": result.output}
    return {**entry, "broken": True} if result.broken else entry


def _failures(results: dict[str, dict[str, Any]], runbook: Runbook | None = None) -> list[str]:
    """Failed steps; with ``runbook``, only those that need a person: failed actions and broken
    steps (a check that found its condition false is an answer, not a failure)."""
    actions = {s.id for s in runbook.steps if s.type is StepType.ACTION} if runbook else None
    return [
        f"{name}: {r['summary']}"
        for name, r in results.items()
        if r["outcome"] == "failed" and (actions is None or name in actions or r.get("broken"))
    ]


def _escalation_reason(step: Step, state: RunState) -> str:
    if reason := step.params.get("reason"):
        return str(reason)
    failed = _failures(state.results)  # every finding helps the person who takes over
    return "automation did not mitigate" + (" — " + "; ".join(failed) if failed else "")


def _human(delta: timedelta) -> str:
    return format_duration(delta)
