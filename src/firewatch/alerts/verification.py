"""Verify before paging, on the alert side: an incident opened by another system's alert about a
model Firewatch can reach opens with its verification pending (no page yet) and a job that
checks the model (`firewatch.detect.verify`); the job records ``verified`` or ``unverified`` on
the timeline, and that entry is what pages. If the check itself breaks, the incident is marked
unverified and paged all the same: verification may delay a page by seconds, never lose one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.orm import Session

from firewatch.alerts.schemas import Alert
from firewatch.clock import Clock
from firewatch.detect.verify import Verification
from firewatch.incidents.models import IncidentRow
from firewatch.incidents.timeline import TimelineKind, record
from firewatch.store import jobs as job_table
from firewatch.store.jobs import Job
from firewatch.store.writer import Writer

VERIFY_JOB = "alerts.verify"
EXTERNAL_SOURCES = frozenset({"alertmanager", "grafana", "pagerduty"})
"""Alerts from these are verified; Firewatch's own probes, scrapes and events are measurements."""
PENDING = "pending"


def enqueue(session: Session, incident: IncidentRow, alert: Alert, now: datetime) -> None:
    job_table.enqueue_job(
        session,
        kind=VERIFY_JOB,
        key=f"verify:{incident.id}",
        payload={
            "incident_id": incident.id,
            "model": alert.model or "",
            "alertname": alert.alertname,
            "source": alert.labels["source"],
        },
        due_at=now,
        now=now,
        max_attempts=1,  # a check that breaks is reported as such, at once: the page waits
        incident_id=incident.id,
    )


def record_verification(
    session: Session, incident_id: int, result: Verification, payload: dict[str, str], now: datetime
) -> None:
    incident = session.get(IncidentRow, incident_id)
    if incident is None:
        return
    kind = TimelineKind.VERIFIED if result.confirmed else TimelineKind.UNVERIFIED
    alert = f"{payload['alertname']} from {payload['source']}"
    text = f"{alert}: {result.summary}"
    if not result.confirmed:
        text += " — kept and notified as unverified"
    record(
        session,
        incident,
        kind=kind,
        text=text,
        actor="firewatch",
        at=now,
        details={
            "confirmed": result.confirmed,
            "checks": result.checks,
            "held_page": True,
            **payload,
        },
    )


def verify_handlers(
    verify: Callable[[str, str], Awaitable[Verification]], writer: Writer, clock: Clock
) -> tuple[Callable[[Job], Awaitable[None]], Callable[[Session, Job, str], None]]:
    """The job handler and its dead-letter handler (which marks the incident unverified)."""

    async def run(job: Job) -> None:
        p = job.payload
        result = await verify(p["model"], p["alertname"])
        await writer.run(lambda s: record_verification(s, p["incident_id"], result, p, clock.now()))

    def dead(session: Session, job: Job, error: str) -> None:
        result = Verification(False, f"the check failed ({error})")
        record_verification(session, job.payload["incident_id"], result, job.payload, clock.now())

    return run, dead
