"""Typed timeline kinds and the one function that records an incident change (timeline + event).

Every change to an incident goes through `record`, which appends the timeline entry and the
domain event in the caller's transaction — never one without the other. Drills, MTTA/MTTR and
post-mortems read the kinds, never the free text.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from firewatch.incidents.models import IncidentRow, TimelineEntryRow
from firewatch.store import events as event_log

EVENT_SCHEMA_VERSION = 1


class TimelineKind(StrEnum):
    DECLARED = "declared"  # a person reported it
    DETECTED = "detected"  # an alert opened it
    ALERT_ATTACHED = "alert_attached"  # another alert joined the open incident
    ALERT_RESOLVED = "alert_resolved"
    VERIFIED = "verified"  # the alert was confirmed real (e.g. /health re-probed)
    UNVERIFIED = "unverified"  # it could not be confirmed: kept and notified, marked so
    CHECK = "check"  # a runbook check ran; details hold outcome and output
    NOTIFIED = "notified"
    NOTIFICATION_FAILED = "notification_failed"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    ESCALATED = "escalated"
    ASSIGNED = "assigned"
    SEVERITY_CHANGED = "severity_changed"
    RUNBOOK_STARTED = "runbook_started"
    RUNBOOK_FINISHED = "runbook_finished"
    ACTION_STARTED = "action_started"
    ACTION_SUCCEEDED = "action_succeeded"
    ACTION_FAILED = "action_failed"
    ACTION_PROPOSED = "action_proposed"  # policy kept an action for a person to approve
    ACTION_APPROVED = "action_approved"
    ACTION_REJECTED = "action_rejected"
    MANUAL_STEP = "manual_step"  # a checklist item for a person (details: step, blocking)
    MANUAL_STEP_DONE = "manual_step_done"  # ticked (or skipped) by a person
    INVESTIGATION = "investigation"  # what was gathered at open: deploys, drift, errors, logs
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    CLOSED = "closed"
    STATUS_UPDATE = "status_update"
    NOTE = "note"
    ROOT_CAUSE_IDENTIFIED = "root_cause_identified"
    UPDATED = "updated"


OPENED_EVENT = "incident.opened"


def event_type_for(kind: TimelineKind) -> str:
    """The event-log type of a timeline kind (``incident.<kind>``; opening is ``incident.opened``)."""
    if kind in (TimelineKind.DECLARED, TimelineKind.DETECTED):
        return OPENED_EVENT
    return f"incident.{kind.value}"


def record(
    session: Session,
    incident: IncidentRow,
    *,
    kind: TimelineKind,
    text: str,
    actor: str,
    at: datetime,
    details: dict[str, Any] | None = None,
) -> TimelineEntryRow:
    """Append a timeline entry and its domain event in the current transaction."""
    details = details or {}
    entry = TimelineEntryRow(
        incident_id=incident.id, at=at, kind=kind.value, actor=actor, event=text, details=details
    )
    session.add(entry)
    incident.updated_at = at
    event_log.append_event(
        session,
        type=event_type_for(kind),
        schema_version=EVENT_SCHEMA_VERSION,
        incident_id=incident.id,
        at=at,
        payload={
            "incident": incident.display_id,
            "kind": kind.value,
            "text": text,
            "actor": actor,
            "severity": incident.severity,
            "status": incident.status,
            "model": incident.model,
            "model_version": incident.model_version,
            "labels": incident.labels or {},
            "details": details,
        },
    )
    return entry
