"""Status-update cadence (the seed: "every 15 minutes" for SEV1 and SEV2): when an open
incident has had no stakeholder update for its severity's interval, the incident commander (or,
without one, the owner; without one, the chat channel) is reminded — with the command to post it.

Timers are durable jobs: one check per incident at a time, due when the next update is; a
posted update moves the next check, a resolution ends them.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from firewatch.clock import Clock
from firewatch.comms.settings import CommsConfig
from firewatch.config import Intent, NotifyConfig
from firewatch.duration import format_duration
from firewatch.incidents.lifecycle import Status
from firewatch.incidents.models import IncidentRow, TimelineEntryRow
from firewatch.incidents.schemas import Role
from firewatch.incidents.timeline import TimelineKind
from firewatch.notify.routing import routing_labels
from firewatch.notify.worker import enqueue_delivery
from firewatch.severity import Severity
from firewatch.store import jobs as job_table
from firewatch.store.events import Event
from firewatch.store.jobs import Job
from firewatch.store.writer import Writer

CONSUMER = "comms"
REMINDER_JOB = "comms.reminder"
TYPES = frozenset({"incident.opened", "incident.severity_changed"})


@dataclass
class Cadence:
    config: CommsConfig
    notify: NotifyConfig
    writer: Writer
    clock: Clock

    types = TYPES

    def on_event(self, session: Session, event: Event) -> None:
        if event.incident_id is None:
            return
        every = self.config.status_update_every.get(Severity(event.payload["severity"]))
        if every is not None:
            self._schedule(session, event.incident_id, event.created_at + every)

    def _schedule(self, session: Session, incident_id: int, due: datetime) -> None:
        job_table.enqueue_job(
            session,
            kind=REMINDER_JOB,
            key=f"reminder:{incident_id}:{due.isoformat()}",
            payload={"incident_id": incident_id},
            due_at=due,
            now=self.clock.now(),
            incident_id=incident_id,
        )

    async def check(self, job: Job) -> None:
        await self.writer.run(lambda session: self._check(session, int(job.payload["incident_id"])))

    def _check(self, session: Session, incident_id: int) -> None:
        incident = session.get(IncidentRow, incident_id)
        if incident is None or not Status(incident.status).is_open:
            return
        every = self.config.status_update_every.get(Severity(incident.severity))
        if every is None:
            return
        last_update = session.scalar(
            select(func.max(TimelineEntryRow.at)).where(
                TimelineEntryRow.incident_id == incident_id,
                TimelineEntryRow.kind == TimelineKind.STATUS_UPDATE.value,
            )
        )
        since = max(incident.opened_at, last_update or incident.opened_at)
        now = self.clock.now()
        if now < since + every:  # an update came in meanwhile: check again when the next is due
            self._schedule(session, incident_id, since + every)
            return
        target = _commander(incident)
        ago = format_duration(now - since)
        what = "the last status update" if last_update else "the incident opened with no update"
        headline = (
            f"Reminder: a status update for {incident.display_id} is due ({what} {ago} ago). "
            f"Post one: firewatch incident update {incident.display_id} "
            f"{shlex.quote('What is known, what is being done, next update in 15 min')}"
        )
        routing = self.notify.for_labels(
            routing_labels({"labels": incident.labels, "model": incident.model})
        )
        for channel in routing.channels_for.get(Intent.CHAT, []):
            enqueue_delivery(
                session,
                key=f"fw-reminder-{incident_id}-{now:%Y%m%dT%H%M%S}-{channel}",
                event_type="incident.reminder",
                incident_id=incident_id,
                message="update",
                intent=Intent.CHAT.value,
                target=target,
                channel=channel,
                headline=headline,
                now=now,
                max_attempts=self.notify.max_attempts,
            )
        self._schedule(session, incident_id, now + every)


def _commander(incident: IncidentRow) -> str:
    for role in incident.roles:
        if role.role == Role.COMMANDER.value:
            return role.person.handle
    if incident.assigned_to is not None:
        return incident.assigned_to.handle
    return "incident commander (unassigned)"
