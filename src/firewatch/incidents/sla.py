"""SLA clocks: response and resolution deadlines from the severity policy, and whether they broke.

"Responded" means the first of acknowledged, mitigated or resolved: an incident that automation
mitigated before anyone acknowledged it did get a response in time. MTTA still counts only
human acknowledgements.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from firewatch.incidents.models import IncidentRow
from firewatch.incidents.schemas import SlaOut
from firewatch.severity import Severity, SeverityPolicy


def set_deadlines(incident: IncidentRow, policy: SeverityPolicy) -> None:
    """(Re)compute both deadlines from the opening time and the current severity."""
    severity = Severity(incident.severity)
    runbook = (
        timedelta(seconds=incident.runbook_response_s)
        if incident.runbook_response_s is not None
        else None
    )
    incident.response_due_at = policy.response_deadline(severity, incident.opened_at, runbook)
    incident.resolution_due_at = policy.resolution_deadline(severity, incident.opened_at)


def responded_at(incident: IncidentRow) -> datetime | None:
    times = [
        t for t in (incident.acknowledged_at, incident.mitigated_at, incident.resolved_at) if t
    ]
    return min(times) if times else None


def _breached(done_at: datetime | None, due: datetime, now: datetime) -> bool:
    return done_at > due if done_at is not None else now > due


def sla_of(incident: IncidentRow, now: datetime) -> SlaOut:
    response = _breached(responded_at(incident), incident.response_due_at, now)
    resolution = _breached(incident.resolved_at, incident.resolution_due_at, now)
    return SlaOut(
        response_due_at=incident.response_due_at,
        resolution_due_at=incident.resolution_due_at,
        response_breached=response,
        resolution_breached=resolution,
        breached=response or resolution,
    )
