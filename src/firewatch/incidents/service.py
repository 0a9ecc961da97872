"""Incident commands: open, transition, acknowledge, set severity, assign, note, update, escalate.

Every function takes the session of the caller's write transaction and the current time (from
the injected clock), and records its change with `timeline.record` so that the timeline entry
and the domain event commit together with the change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from firewatch.errors import Conflict, InvalidInput, NotFound
from firewatch.incidents import sla
from firewatch.incidents.lifecycle import OPEN_STATUSES, Status, check_transition
from firewatch.incidents.models import IncidentCounterRow, IncidentRoleRow, IncidentRow
from firewatch.incidents.schemas import Role
from firewatch.incidents.timeline import TimelineKind, record
from firewatch.people import service as people_service
from firewatch.severity import Severity, SeverityPolicy

_DISPLAY_ID = re.compile(r"^INC-(\d{4})-(\d{3,})$", re.IGNORECASE)


@dataclass(frozen=True)
class Actor:
    """Who made a change: a person's handle, an API token's name, or Firewatch itself."""

    name: str
    human: bool = True


SYSTEM = Actor("firewatch", human=False)


DRILL_PREFIX = "[DRILL] "
"""Starts the title of a drill's incident, so lists, pages and messages say so."""


@dataclass(frozen=True)
class DrillMark:
    """The drill running on an incident's model when it opened: the incident is a drill."""

    run_id: int
    scenario: str


def format_display_id(year: int, number: int) -> str:
    return f"INC-{year}-{number:03d}"


def next_incident_number(session: Session, *, year: int) -> int:
    """Atomically take the next number of ``year`` (row-locked upsert: unique under concurrency)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(IncidentCounterRow)
        .values(year=year, last_number=1)
        .on_conflict_do_update(
            index_elements=["year"], set_={"last_number": IncidentCounterRow.last_number + 1}
        )
        .returning(IncidentCounterRow.last_number)
    )
    return int(session.execute(statement).scalar_one())


def open_incident(
    session: Session,
    *,
    title: str,
    severity: Severity,
    now: datetime,
    policy: SeverityPolicy,
    actor: Actor,
    description: str = "",
    model: str | None = None,
    model_version: str | None = None,
    source: str = "human",
    signals: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
    group_key: str | None = None,
    runbook: str | None = None,
    runbook_response: timedelta | None = None,
    assigned_to: str | None = None,
    details: dict[str, Any] | None = None,
    drill: DrillMark | None = None,
) -> IncidentRow:
    """Open an incident with the next INC-YYYY-NNN id, its SLA deadlines and its first entry
    (a ``drill`` one is titled ``[DRILL] …`` and labelled ``drill=<scenario>``)."""
    if drill is not None:
        title = DRILL_PREFIX + title
        labels = {**(labels or {}), "drill": drill.scenario}
        details = {**(details or {}), "drill": drill.run_id}
    owner = people_service.get_person(session, handle=assigned_to) if assigned_to else None
    number = next_incident_number(session, year=now.year)
    incident = IncidentRow(
        display_id=format_display_id(now.year, number),
        year=now.year,
        number=number,
        title=title,
        description=description,
        severity=severity.value,
        status=Status.TRIGGERED.value,
        source=source,
        model=model,
        model_version=model_version,
        group_key=group_key,
        runbook=runbook,
        runbook_response_s=int(runbook_response.total_seconds()) if runbook_response else None,
        signals=list(signals or []),
        labels=dict(labels or {}),
        assigned_to_id=owner.id if owner else None,
        drill_run_id=drill.run_id if drill else None,
        opened_at=now,
        updated_at=now,
    )
    sla.set_deadlines(incident, policy)
    session.add(incident)
    session.flush()
    human = source == "human"
    record(
        session,
        incident,
        kind=TimelineKind.DECLARED if human else TimelineKind.DETECTED,
        text=f"{'Declared' if human else 'Alert triggered'}: {title} ({severity.value})",
        actor=actor.name,
        at=now,
        details={"severity": severity.value, **(details or {})},
    )
    return incident


def get_incident(session: Session, *, ref: str, for_update: bool = False) -> IncidentRow:
    """The incident whose display id is ``ref`` (case-insensitive), or a 404."""
    match = _DISPLAY_ID.match(ref.strip())
    if match is None:
        raise NotFound(
            f"no incident {ref!r}: incident ids look like INC-2026-001", code="unknown_incident"
        )
    query = select(IncidentRow).where(
        IncidentRow.year == int(match.group(1)), IncidentRow.number == int(match.group(2))
    )
    if for_update and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    incident = session.scalar(query)
    if incident is None:
        raise NotFound(f"no incident {ref.strip().upper()}", code="unknown_incident")
    return incident


def find_open_incident(session: Session, *, group_key: str) -> IncidentRow | None:
    return session.scalar(
        select(IncidentRow).where(
            IncidentRow.group_key == group_key,
            IncidentRow.status.in_([s.value for s in OPEN_STATUSES]),
        )
    )


def transition(
    session: Session,
    *,
    incident: IncidentRow,
    to: Status,
    actor: Actor,
    now: datetime,
    note: str | None = None,
    resolution: str | None = None,
) -> IncidentRow:
    """Move the incident to ``to`` (409 naming the allowed targets if that is not a transition)."""
    current = Status(incident.status)
    check_transition(incident.display_id, current, to)
    if current is Status.RESOLVED and to is Status.INVESTIGATING:
        _reopen_guard(session, incident)
    incident.status = to.value
    kind = TimelineKind(to.value)
    if to is Status.ACKNOWLEDGED or (
        actor.human and to is Status.INVESTIGATING and current is Status.TRIGGERED
    ):
        _mark_acknowledged(session, incident, actor, now)
    if to is Status.MITIGATED and incident.mitigated_at is None:
        incident.mitigated_at = now
    if to is Status.RESOLVED:
        incident.resolved_at = now
        if resolution:
            incident.resolution = resolution
    if to is Status.CLOSED:
        incident.closed_at = now
    if current is Status.RESOLVED and to is Status.INVESTIGATING:
        incident.resolved_at = None
        kind = TimelineKind.REOPENED
    text = f"Status {current.value} → {to.value}" + (f": {note}" if note else "")
    record(
        session,
        incident,
        kind=kind,
        text=text,
        actor=actor.name,
        at=now,
        details={"from": current.value, "to": to.value, "note": note, "resolution": resolution},
    )
    return incident


def acknowledge(
    session: Session, *, incident: IncidentRow, actor: Actor, now: datetime
) -> IncidentRow:
    """Acknowledge: ``triggered`` moves to ``acknowledged``; a later open status keeps its status."""
    status = Status(incident.status)
    if not status.is_open:
        raise Conflict(
            f"{incident.display_id} is {status.value}: there is nothing to acknowledge",
            code="invalid_transition",
            details={"from": status.value, "to": "acknowledged", "allowed": []},
        )
    if incident.acknowledged_at is not None:
        raise Conflict(
            f"{incident.display_id} was already acknowledged at "
            f"{incident.acknowledged_at:%Y-%m-%d %H:%M:%S} UTC",
            code="already_acknowledged",
        )
    if status is Status.TRIGGERED:
        return transition(session, incident=incident, to=Status.ACKNOWLEDGED, actor=actor, now=now)
    _mark_acknowledged(session, incident, actor, now)
    record(
        session,
        incident,
        kind=TimelineKind.ACKNOWLEDGED,
        text=f"Acknowledged by {actor.name} (status stays {status.value})",
        actor=actor.name,
        at=now,
    )
    return incident


def _mark_acknowledged(
    session: Session, incident: IncidentRow, actor: Actor, now: datetime
) -> None:
    if incident.acknowledged_at is None:
        incident.acknowledged_at = now
        try:
            incident.acknowledged_by_id = people_service.get_person(session, handle=actor.name).id
        except NotFound:
            incident.acknowledged_by_id = None  # a token or script, not a known person


def _reopen_guard(session: Session, incident: IncidentRow) -> None:
    if incident.group_key is None:
        return
    other = find_open_incident(session, group_key=incident.group_key)
    if other is not None and other.id != incident.id:
        raise Conflict(
            f"cannot reopen {incident.display_id}: {other.display_id} is already open for "
            f"{incident.group_key}; add a note there instead",
            code="group_already_open",
            details={"open_incident": other.display_id},
        )


def set_severity(
    session: Session,
    *,
    incident: IncidentRow,
    severity: Severity,
    actor: Actor,
    now: datetime,
    policy: SeverityPolicy,
    reason: str | None = None,
) -> IncidentRow:
    """Raise freely; lowering needs a reason, which goes on the timeline."""
    current = Severity(incident.severity)
    if Status(incident.status) is Status.CLOSED:
        raise Conflict(f"{incident.display_id} is closed; its severity is final")
    if severity is current:
        return incident
    lowering = current.is_higher_than(severity)
    if lowering and not (reason and reason.strip()):
        raise InvalidInput(
            f"lowering {incident.display_id} from {current} to {severity} needs a reason",
            code="reason_required",
        )
    incident.severity = severity.value
    sla.set_deadlines(incident, policy)
    direction = "lowered" if lowering else "raised"
    record(
        session,
        incident,
        kind=TimelineKind.SEVERITY_CHANGED,
        text=f"Severity {direction} {current} → {severity}" + (f": {reason}" if reason else ""),
        actor=actor.name,
        at=now,
        details={
            "from": current.value,
            "to": severity.value,
            "direction": direction,
            "reason": reason,
        },
    )
    return incident


def assign(
    session: Session,
    *,
    incident: IncidentRow,
    person: str,
    actor: Actor,
    now: datetime,
    role: Role | None = None,
) -> IncidentRow:
    """Make ``person`` the owner (``assigned_to``), or give them an incident role."""
    row = people_service.get_person(session, handle=person)
    if role is None:
        incident.assigned_to_id = row.id
        text = f"Assigned to {row.handle}"
    else:
        existing = session.get(IncidentRoleRow, (incident.id, role.value))
        if existing is None:
            session.add(
                IncidentRoleRow(
                    incident_id=incident.id, role=role.value, person_id=row.id, assigned_at=now
                )
            )
        else:
            existing.person_id = row.id
            existing.assigned_at = now
        text = f"{row.handle} is {role.value}"
    record(
        session,
        incident,
        kind=TimelineKind.ASSIGNED,
        text=text,
        actor=actor.name,
        at=now,
        details={"person": row.handle, "role": role.value if role else "owner"},
    )
    return incident


def add_note(
    session: Session, *, incident: IncidentRow, text: str, actor: Actor, now: datetime
) -> IncidentRow:
    record(session, incident, kind=TimelineKind.NOTE, text=text, actor=actor.name, at=now)
    return incident


def post_status_update(
    session: Session, *, incident: IncidentRow, text: str, actor: Actor, now: datetime
) -> IncidentRow:
    """A stakeholder update: on the timeline, and sent to the incident's channels (chat, email,
    ticket — never a page) by the notify worker from its event."""
    if not Status(incident.status).is_open:
        raise Conflict(
            f"{incident.display_id} is {incident.status}: the resolution notification was the "
            "last update; add a note instead"
        )
    record(session, incident, kind=TimelineKind.STATUS_UPDATE, text=text, actor=actor.name, at=now)
    return incident


def update_record(
    session: Session,
    *,
    incident: IncidentRow,
    actor: Actor,
    now: datetime,
    title: str | None = None,
    description: str | None = None,
    root_cause: str | None = None,
    resolution: str | None = None,
) -> IncidentRow:
    """Set any of title, description, root cause and resolution."""
    if root_cause is not None:
        incident.root_cause = root_cause
        record(
            session,
            incident,
            kind=TimelineKind.ROOT_CAUSE_IDENTIFIED,
            text=f"Root cause identified: {root_cause}",
            actor=actor.name,
            at=now,
        )
    changed = {
        name: value
        for name, value in (
            ("title", title),
            ("description", description),
            ("resolution", resolution),
        )
        if value is not None
    }
    for name, value in changed.items():
        setattr(incident, name, value)
    if changed:
        record(
            session,
            incident,
            kind=TimelineKind.UPDATED,
            text="Updated " + ", ".join(changed),
            actor=actor.name,
            at=now,
            details=changed,
        )
    return incident


def escalate(
    session: Session,
    *,
    incident: IncidentRow,
    reason: str,
    actor: Actor,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> IncidentRow:
    """Ask for more people: recorded as ``escalated``; the notify worker pages from the event."""
    if not Status(incident.status).is_open:
        raise Conflict(f"{incident.display_id} is {incident.status}; nothing to escalate")
    record(
        session,
        incident,
        kind=TimelineKind.ESCALATED,
        text=f"Escalated: {reason}",
        actor=actor.name,
        at=now,
        details={"reason": reason, **(details or {})},
    )
    return incident
