"""The notify worker: turns incident events into delivery jobs, and delivers them.

The consumer half runs in the writer's transaction with its cursor (each event's jobs are
enqueued exactly once, keyed by a stable idempotency id); the job half sends through the
channel, retried with backoff by the job runner, and records ``notified`` on the timeline —
or ``notification_failed`` once the retry budget is spent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from firewatch.clock import Clock
from firewatch.comms.templates import ACTION_KINDS, render_message
from firewatch.config import NotifyConfig
from firewatch.incidents import queries as incident_queries
from firewatch.incidents.models import IncidentRow
from firewatch.incidents.schemas import IncidentOut
from firewatch.incidents.timeline import TimelineKind, record
from firewatch.notify.channels import Channel, Notification
from firewatch.notify.routing import NOTIFYING_EVENTS, deliveries_for
from firewatch.severity import Severity, SeverityPolicy
from firewatch.store import jobs as job_table
from firewatch.store.db import Database
from firewatch.store.events import Event
from firewatch.store.jobs import Job
from firewatch.store.runner import GiveUp
from firewatch.store.writer import Writer

CONSUMER = "notify"
DELIVER_JOB = "notify.deliver"
_INTENT_VERB = {"page": "Paged", "chat": "Posted to", "email": "Emailed", "ticket": "Ticket for"}


@dataclass
class NotifyWorker:
    config: NotifyConfig
    policy: SeverityPolicy
    channels: dict[str, Channel]
    db: Database
    writer: Writer
    clock: Clock
    escalates: frozenset[Severity] = frozenset()  # severities with an escalation policy
    redact: Callable[[str], str] = str  # strips channel secrets from what reaches the timeline
    templates: dict[str, dict[str, Path]] = field(default_factory=dict)  # channel -> kind -> file

    types = NOTIFYING_EVENTS

    def on_event(self, session: Session, event: Event) -> None:
        """Consumer handler: enqueue one delivery job per routed notification."""
        if event.incident_id is None:
            return
        for delivery in deliveries_for(event, self.config, self.escalates):
            enqueue_delivery(
                session,
                key=delivery.key(event.id),
                event_type=event.type,
                incident_id=event.incident_id,
                message=delivery.message,
                intent=delivery.intent.value,
                target=delivery.target,
                channel=delivery.channel,
                headline=delivery.headline,
                now=self.clock.now(),
                max_attempts=self.config.max_attempts,
            )

    async def deliver(self, job: Job) -> None:
        """Job handler: render the message from the incident as it is now and send it."""
        p = job.payload
        channel = self.channels.get(p["channel"])
        if channel is None:
            raise GiveUp(f"channel {p['channel']!r} is no longer configured")
        incident = await self.db.read(
            lambda s: incident_queries.incident_with_entries(
                s, incident_id=p["incident_id"], now=self.clock.now(), kinds=ACTION_KINDS
            )
        )
        now = self.clock.now()
        text = render_message(
            p["message"],
            incident,
            policy=self.policy,
            now=now,
            headline=p["headline"],
            template_file=self.templates.get(p["channel"], {}).get(p["message"]),
        )
        notification = Notification(
            id=p["id"],
            event_type=p["event_type"],
            intent=p["intent"],
            target=p["target"],
            text=text,
            incident=_incident_summary(incident),
            message=p["message"],
            headline=p.get("headline"),
            severity=incident.severity.value,
            incident_ref=incident.id,
        )
        outcome = await channel.send(notification)
        verb = _INTENT_VERB.get(p["intent"], "Notified")
        await self.writer.run(
            lambda s: _note(
                s,
                p["incident_id"],
                TimelineKind.NOTIFIED,
                f"{verb} {p['target']} via {p['channel']} ({p['message']})",
                {**_details(p), "result": outcome, "attempt": job.attempts},
                self.clock.now(),
            )
        )

    def on_dead(self, session: Session, job: Job, error: str) -> None:
        p = job.payload
        _note(
            session,
            p["incident_id"],
            TimelineKind.NOTIFICATION_FAILED,
            f"Could not notify {p['target']} via {p['channel']}: {self.redact(error)}",
            {**_details(p), "attempts": job.attempts},
            self.clock.now(),
        )


def enqueue_delivery(
    session: Session,
    *,
    key: str,
    event_type: str,
    incident_id: int,
    message: str,
    intent: str,
    target: str,
    channel: str,
    headline: str | None,
    now: datetime,
    max_attempts: int,
) -> bool:
    """One durable delivery job; ``key`` (the notification's idempotency id) makes it once."""
    return job_table.enqueue_job(
        session,
        kind=DELIVER_JOB,
        key=f"notify:{key}",
        payload={
            "id": key,
            "event_type": event_type,
            "incident_id": incident_id,
            "message": message,
            "intent": intent,
            "target": target,
            "channel": channel,
            "headline": headline,
        },
        due_at=now,
        now=now,
        max_attempts=max_attempts,
        incident_id=incident_id,
    )


def _details(p: dict[str, str]) -> dict[str, str]:
    return {k: p[k] for k in ("id", "intent", "target", "channel", "message", "event_type")}


def _note(
    session: Session,
    incident_id: int,
    kind: TimelineKind,
    text: str,
    details: dict[str, object],
    now: datetime,
) -> None:
    incident = session.get(IncidentRow, incident_id)
    if incident is not None:
        record(
            session,
            incident,
            kind=kind,
            text=text,
            actor="firewatch:notify",
            at=now,
            details=details,
        )


def _incident_summary(incident: IncidentOut) -> dict[str, object]:
    return {
        "id": incident.id,
        "severity": incident.severity.value,
        "title": incident.title,
        "status": incident.status,
        "model": incident.model,
        "model_version": incident.model_version,
        "opened_at": incident.timestamp.isoformat(),
        "runbook": incident.runbook,
    }
