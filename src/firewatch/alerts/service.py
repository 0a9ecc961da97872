"""Alert state after processing: the auto-resolve rule, listing alerts, and pruning.

The resolve rule (DESIGN.md): an incident becomes ``resolved`` when every alert attached to it
has cleared and stayed clear for the quiet period; `auto_resolve` is the job that checks it when
the quiet period has passed (`firewatch.alerts.pipeline` schedules it). While a runbook is still
working on the incident (verifying its action, say) the resolve waits for it, up to
`RUNBOOK_HOLD` past the quiet period, so the record reads verified → mitigated → resolved.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from firewatch.alerts.models import AlertRow
from firewatch.alerts.schemas import AlertStatus
from firewatch.duration import format_duration
from firewatch.incidents import service as incident_service
from firewatch.incidents.lifecycle import Status
from firewatch.incidents.models import IncidentRow, TimelineEntryRow
from firewatch.incidents.service import SYSTEM
from firewatch.incidents.timeline import TimelineKind


class AlertOut(BaseModel):
    fingerprint: str
    alertname: str
    model: str | None
    severity: str
    status: str
    suppressed_by: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    last_seen_at: datetime
    incident: str | None


def list_alerts(
    session: Session,
    *,
    status: str | None = None,
    model: str | None = None,
    suppressed: bool | None = None,
    limit: int = 100,
) -> list[AlertOut]:
    """Alerts newest first, optionally by status (firing/resolved), model and suppression."""
    conditions: list[ColumnElement[bool]] = []
    if status:
        conditions.append(AlertRow.status == status)
    if model:
        conditions.append(AlertRow.model == model)
    if suppressed is not None:
        conditions.append(
            AlertRow.suppressed_by.is_not(None) if suppressed else AlertRow.suppressed_by.is_(None)
        )
    rows = session.execute(
        select(AlertRow, IncidentRow.display_id)
        .outerjoin(IncidentRow, IncidentRow.id == AlertRow.incident_id)
        .where(*conditions)
        .order_by(AlertRow.last_seen_at.desc(), AlertRow.id.desc())
        .limit(limit)
    ).all()
    return [
        AlertOut(
            fingerprint=row.fingerprint,
            alertname=row.alertname,
            model=row.model,
            severity=row.severity,
            status=row.status,
            suppressed_by=row.suppressed_by,
            labels=dict(row.labels),
            annotations=dict(row.annotations),
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            last_seen_at=row.last_seen_at,
            incident=display_id,
        )
        for row, display_id in rows
    ]


def _firing(session: Session, incident: IncidentRow) -> list[AlertRow]:
    return list(
        session.scalars(
            select(AlertRow).where(
                AlertRow.incident_id == incident.id, AlertRow.status == AlertStatus.FIRING
            )
        )
    )


RUNBOOK_HOLD = timedelta(minutes=10)
"""How long past the quiet period a resolve waits for a runbook still working on the incident."""


def auto_resolve(
    session: Session,
    *,
    incident_id: int,
    quiet_period: timedelta,
    now: datetime,
    runbook_running: bool = False,
) -> bool:
    """Resolve the incident if its alerts are all clear and have been for the quiet period,
    and a runbook still working on it does not hold it; True when it was resolved."""
    incident = session.get(IncidentRow, incident_id)
    if incident is None or not Status(incident.status).is_open or _firing(session, incident):
        return False
    last_clear = session.scalar(
        select(AlertRow.ends_at)
        .where(AlertRow.incident_id == incident.id)
        .order_by(AlertRow.ends_at.desc())
        .limit(1)
    )
    if last_clear is not None and now - last_clear < quiet_period:
        return False
    held_until = (last_clear or now) + quiet_period + RUNBOOK_HOLD
    if runbook_running and now < held_until:
        return False
    resolution = incident.resolution or _auto_resolution(session, incident, quiet_period)
    incident_service.transition(
        session,
        incident=incident,
        to=Status.RESOLVED,
        actor=SYSTEM,
        now=now,
        note=f"every alert cleared and stayed clear for {format_duration(quiet_period)}",
        resolution=resolution,
    )
    return True


def _auto_resolution(session: Session, incident: IncidentRow, quiet: timedelta) -> str:
    action = session.scalar(
        select(TimelineEntryRow.event)
        .where(
            TimelineEntryRow.incident_id == incident.id,
            TimelineEntryRow.kind == TimelineKind.ACTION_SUCCEEDED.value,
        )
        .order_by(TimelineEntryRow.id.desc())
        .limit(1)
    )
    cleared = f"all alerts cleared and stayed clear for {int(quiet.total_seconds())}s"
    return f"{action}; {cleared}" if action else cleared[0].upper() + cleared[1:]


def prune_cleared_alerts(session: Session, *, before: datetime) -> int:
    """Delete alerts that cleared before ``before`` (their story stays on the incident timeline)."""
    result = session.execute(
        delete(AlertRow).where(AlertRow.status == AlertStatus.RESOLVED, AlertRow.ends_at < before)
    )
    return int(getattr(result, "rowcount", 0) or 0)
