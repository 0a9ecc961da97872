"""The escalation engine: runs an incident's escalation policy (`firewatch.notify.policy`) on
durable timers — the only thing that pages.

* An incident opening (once its page is no longer held for verification) starts the policy of
  its severity: one ``escalation.level`` job per level, due at the level's delay. A severity
  raised later starts the new severity's policy alongside (a job key per policy, level and
  repeat makes every start idempotent).
* A level's job, when due, checks its condition against the incident *as it is then*: resolved
  stops everything; ``until: acknowledged`` stops once someone acknowledged. Otherwise it pages
  every target (a schedule is resolved to whoever is on call at that moment) through the
  ``page`` channels, records ``escalated`` on the timeline, and schedules its next repeat.
* ``incident.escalated`` from a person or a runbook's *escalate* step advances the policy: the
  next level that has not fired yet fires now. Nobody is paged twice for one step.

All state is in the job table and the timeline: a restart changes nothing, timers run on the
injected clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from firewatch.clock import Clock
from firewatch.config import Intent, NotifyConfig
from firewatch.errors import FirewatchError
from firewatch.incidents.lifecycle import Status
from firewatch.incidents.models import IncidentRow, TimelineEntryRow
from firewatch.incidents.timeline import TimelineKind, record
from firewatch.notify.policy import EscalationConfig, EscalationLevel, EscalationTarget
from firewatch.notify.routing import UNVERIFIED_HEADLINE, routing_labels
from firewatch.notify.worker import enqueue_delivery
from firewatch.oncall import service as oncall_service
from firewatch.oncall.schedules import OncallConfig
from firewatch.severity import Severity
from firewatch.store import jobs as job_table
from firewatch.store.events import Event
from firewatch.store.jobs import Job, JobRow, JobStatus
from firewatch.store.writer import Writer

log = logging.getLogger(__name__)

CONSUMER = "escalation"
LEVEL_JOB = "escalation.level"
ACTOR = "firewatch:escalation"
TYPES = frozenset(
    {
        "incident.opened",
        "incident.verified",
        "incident.unverified",
        "incident.severity_changed",
        "incident.escalated",
    }
)

# (session, target, at) -> who that is now: [(label for the page, note for the timeline)]
TargetResolver = Callable[[Session, EscalationTarget, datetime], list[tuple[str, str]]]


def plain_targets(
    session: Session, target: EscalationTarget, at: datetime
) -> list[tuple[str, str]]:
    """Persons and names as they are; a schedule by its name (no on-call data to resolve it)."""
    label = target.person or target.name or f"on-call ({target.schedule})"
    return [(label, target.label())]


def oncall_targets(oncall: OncallConfig) -> TargetResolver:
    """Schedules resolved to whoever is on call at the moment, people by handle. A target that
    cannot be resolved still pages — by its name, with the reason on the timeline."""

    def resolve(session: Session, target: EscalationTarget, at: datetime) -> list[tuple[str, str]]:
        if target.name:
            return [(target.name, target.name)]
        try:
            people = oncall_service.resolve_target(session, config=oncall, target=target, at=at)
        except FirewatchError as exc:
            label = plain_targets(session, target, at)[0][0]
            return [(label, f"could not resolve: {exc.message}")]
        return [(person.handle, target.label()) for person in people]

    return resolve


@dataclass
class EscalationEngine:
    config: EscalationConfig
    notify: NotifyConfig
    writer: Writer
    clock: Clock
    resolve: TargetResolver = plain_targets

    types = TYPES

    # --- consumer: start and advance -----------------------------------------------------------

    def on_event(self, session: Session, event: Event) -> None:
        if event.incident_id is None:
            return
        payload = event.payload
        details = payload.get("details") or {}
        severity = Severity(payload["severity"])
        if event.type == "incident.opened":
            if details.get("verification") != "pending":  # else: started once checked
                self.start(session, event.incident_id, severity, event.created_at)
        elif event.type in ("incident.verified", "incident.unverified"):
            if details.get("held_page"):
                self.start(session, event.incident_id, severity, event.created_at)
        elif event.type == "incident.severity_changed":
            if details.get("direction") == "raised":
                self.start(session, event.incident_id, severity, event.created_at)
        elif event.type == "incident.escalated" and details.get("source") != "policy":
            self.advance(
                session, event.incident_id, severity, event.created_at, payload.get("text", "")
            )

    def start(self, session: Session, incident_id: int, severity: Severity, at: datetime) -> None:
        policy = self.config.policy_for(severity)
        if policy is None:
            return
        for index, level in enumerate(policy.levels):
            self._enqueue(session, incident_id, policy.name, index, 0, at + level.after, at)

    def _enqueue(
        self,
        session: Session,
        incident_id: int,
        policy: str,
        level: int,
        repeat: int,
        due: datetime,
        started: datetime,
    ) -> None:
        job_table.enqueue_job(
            session,
            kind=LEVEL_JOB,
            key=f"escalation:{incident_id}:{policy}:{level}:{repeat}",
            payload={
                "incident_id": incident_id,
                "policy": policy,
                "level": level,
                "repeat": repeat,
                "started_at": started.isoformat(),
            },
            due_at=due,
            now=self.clock.now(),
            incident_id=incident_id,
        )

    def advance(
        self, session: Session, incident_id: int, severity: Severity, at: datetime, why: str
    ) -> None:
        """Fire the next level that is still waiting, now."""
        waiting = session.scalars(
            select(JobRow)
            .where(
                JobRow.kind == LEVEL_JOB,
                JobRow.incident_id == incident_id,
                JobRow.status == JobStatus.PENDING.value,
                JobRow.due_at > at,
            )
            .order_by(JobRow.due_at, JobRow.id)
        ).all()
        first = next((job for job in waiting if job.payload.get("repeat") == 0), None)
        incident = session.get(IncidentRow, incident_id)
        if first is None:
            if incident is not None and Status(incident.status).is_open:
                policy = self.config.policy_for(severity)
                text = (
                    f"No further escalation level in policy {policy.name}: everyone it names "
                    "has been paged"
                    if policy
                    else f"{severity.value} has no escalation policy: nobody is paged"
                )
                record(
                    session,
                    incident,
                    kind=TimelineKind.NOTE,
                    text=text,
                    actor=ACTOR,
                    at=at,
                    details={"source": "policy", "asked": why},
                )
            return
        first.due_at = at
        first.payload = {**first.payload, "advanced": why or "asked to escalate"}
        session.info[job_table.JOBS_ENQUEUED] = True

    # --- job: one level, once ------------------------------------------------------------------

    async def fire(self, job: Job) -> None:
        await self.writer.run(lambda session: self._fire(session, job))

    def _fire(self, session: Session, job: Job) -> None:
        p = job.payload
        incident = session.get(IncidentRow, int(p["incident_id"]))
        policy = next((x for x in self.config.policies if x.name == p["policy"]), None)
        if incident is None or policy is None or p["level"] >= len(policy.levels):
            return  # the incident is gone or the policy was removed from the config
        level = policy.levels[p["level"]]
        if not Status(incident.status).is_open:
            return  # resolution stops every level
        if level.until == "acknowledged" and incident.acknowledged_at is not None:
            return
        now = self.clock.now()
        started = datetime.fromisoformat(p["started_at"])
        paged = []
        escalating = bool(p["level"] or p["repeat"] or p.get("advanced"))
        headline = _headline(level, p, started, now, len(policy.levels))
        if _unverified(session, incident.id):  # every page of it says so
            headline = f"{UNVERIFIED_HEADLINE}\n{headline}"
        routing = self.notify.for_labels(
            routing_labels({"labels": incident.labels, "model": incident.model})
        )
        for target in level.targets:
            for label, note in self.resolve(session, target, now):
                paged.append(label if note == label else f"{label} ({note})")
                for channel in routing.channels_for.get(Intent.PAGE, []):
                    enqueue_delivery(
                        session,
                        key=f"fw-esc-{incident.id}-{policy.name}-{p['level']}-{p['repeat']}-"
                        f"{channel}-{label}",
                        event_type="incident.escalated" if escalating else "incident.opened",
                        incident_id=incident.id,
                        message="opened",
                        intent=Intent.PAGE.value,
                        target=label,
                        channel=channel,
                        headline=headline,
                        now=now,
                        max_attempts=self.notify.max_attempts,
                    )
        if not escalating:
            self._repeat(session, incident.id, policy.name, level, p, now, started)
            return  # the first page is no escalation: its deliveries record `notified`
        what = f"level {p['level'] + 1} of {len(policy.levels)} ({policy.name})"
        if p["repeat"]:
            what += f", repeat {p['repeat']}"
        reason = p.get("advanced") or _condition(level)
        record(
            session,
            incident,
            kind=TimelineKind.ESCALATED,
            text=f"Paged {', '.join(paged) or 'nobody (no target resolved)'} — {what}: {reason}",
            actor=ACTOR,
            at=now,
            details={
                "source": "policy",
                "policy": policy.name,
                "level": p["level"],
                "repeat": p["repeat"],
                "targets": paged,
                "until": level.until,
            },
        )
        self._repeat(session, incident.id, policy.name, level, p, now, started)

    def _repeat(
        self,
        session: Session,
        incident_id: int,
        policy: str,
        level: EscalationLevel,
        p: dict[str, Any],
        now: datetime,
        started: datetime,
    ) -> None:
        if level.repeat_every is not None and p["repeat"] < level.repeats:
            self._enqueue(
                session,
                incident_id,
                policy,
                p["level"],
                p["repeat"] + 1,
                now + level.repeat_every,
                started,
            )


def _unverified(session: Session, incident_id: int) -> bool:
    return (
        session.scalar(
            select(TimelineEntryRow.id)
            .where(
                TimelineEntryRow.incident_id == incident_id,
                TimelineEntryRow.kind == TimelineKind.UNVERIFIED.value,
            )
            .limit(1)
        )
        is not None
    )


def _condition(level: EscalationLevel) -> str:
    return "not acknowledged yet" if level.until == "acknowledged" else "still unresolved"


def _headline(
    level: EscalationLevel, p: dict[str, object], started: datetime, now: datetime, levels: int
) -> str:
    minutes = int((now - started) / timedelta(minutes=1))
    condition = _condition(level)
    if p["level"] == 0 and p["repeat"] == 0:
        return f"Paging: {condition}."
    return f"Escalation level {int(str(p['level'])) + 1}/{levels}: {condition} after {minutes} min."
