"""Turning alerts into incidents: dedup by fingerprint, group (default: one open incident per
model), classify severity, attach, and schedule the auto-resolve when a group's alerts clear.

The resolve rule (DESIGN.md): an incident becomes ``resolved`` when every alert attached to it
has cleared and stayed clear for the quiet period. `process_alerts` runs in the writer's
transaction; `auto_resolve` is the job that fires after the quiet period.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from firewatch.alerts.fingerprint import fingerprint
from firewatch.alerts.models import AlertRow
from firewatch.alerts.schemas import Alert, AlertStatus
from firewatch.duration import format_duration
from firewatch.incidents import service as incident_service
from firewatch.incidents.lifecycle import Status
from firewatch.incidents.models import IncidentRow, TimelineEntryRow
from firewatch.incidents.service import SYSTEM
from firewatch.incidents.timeline import TimelineKind, record
from firewatch.severity import Severity, SeverityPolicy, Signals, effective_severity
from firewatch.store import jobs as job_table

AUTO_RESOLVE_JOB = "incident.auto_resolve"


class Outcome(StrEnum):
    OPENED = "opened"  # opened a new incident
    ATTACHED = "attached"  # joined an open incident
    UPDATED = "updated"  # already firing: deduplicated
    RESOLVED = "resolved"  # cleared
    IGNORED = "ignored"  # resolved alert we never saw firing


@dataclass(frozen=True)
class ProcessResult:
    fingerprint: str
    outcome: Outcome
    incident: str | None


@dataclass(frozen=True)
class AlertPolicy:
    """How alerts become incidents (from the config)."""

    severity: SeverityPolicy
    group_by: tuple[str, ...] = ("model",)
    resolve_quiet_period: timedelta = timedelta(minutes=5)
    auto_resolve: bool = True
    runbook_response: Callable[[str], timedelta | None] = field(default=lambda _name: None)


def group_key(alert: Alert, group_by: Sequence[str]) -> str:
    """``model=iris`` by default; Alertmanager-style ``group_by`` over any labels."""
    return ",".join(f"{name}={alert.labels.get(name, '')}" for name in group_by)


def process_alerts(
    session: Session, *, alerts: Sequence[Alert], now: datetime, policy: AlertPolicy
) -> list[ProcessResult]:
    return [_process(session, alert, now, policy) for alert in alerts]


def _process(session: Session, alert: Alert, now: datetime, policy: AlertPolicy) -> ProcessResult:
    fp = fingerprint(alert.labels)
    row = session.scalar(select(AlertRow).where(AlertRow.fingerprint == fp))
    if alert.status is AlertStatus.RESOLVED:
        return _resolve(session, row, alert, fp, now, policy)
    classification = effective_severity(alert.severity, alert.signals or Signals(), policy.severity)
    incident = session.get(IncidentRow, row.incident_id) if row and row.incident_id else None
    still_open = incident is not None and Status(incident.status).is_open
    if row is not None and row.status == AlertStatus.FIRING and incident and still_open:
        row.last_seen_at = now
        row.annotations = dict(alert.annotations)
        _raise_severity(session, incident, classification.severity, alert, now, policy)
        return ProcessResult(fp, Outcome.UPDATED, incident.display_id)
    key = group_key(alert, policy.group_by)
    incident = incident_service.find_open_incident(session, group_key=key)
    if incident is None:
        incident = _open(
            session, alert, key, classification.severity, classification.reasons, now, policy
        )
        outcome = Outcome.OPENED
    else:
        record(
            session,
            incident,
            kind=TimelineKind.ALERT_ATTACHED,
            text=f"Alert {alert.alertname} fired: {_summary(alert)}",
            actor=alert.labels["source"],
            at=now,
            details={"fingerprint": fp, "labels": alert.labels, "signals": _signals(alert)},
        )
        incident.signals = [*incident.signals, _signal_entry(alert, fp, classification.reasons)]
        _raise_severity(session, incident, classification.severity, alert, now, policy)
        outcome = Outcome.ATTACHED
    _upsert(session, row, alert, fp, classification.severity, incident.id, now)
    return ProcessResult(fp, outcome, incident.display_id)


def _open(
    session: Session,
    alert: Alert,
    key: str,
    severity: Severity,
    reasons: list[str],
    now: datetime,
    policy: AlertPolicy,
) -> IncidentRow:
    runbook = alert.annotations.get("runbook") or None
    description = alert.annotations.get("description", "")
    why = f"Severity {severity}: " + "; ".join(reasons) + "."
    return incident_service.open_incident(
        session,
        title=_summary(alert),
        severity=severity,
        now=now,
        policy=policy.severity,
        actor=SYSTEM,
        description=f"{description}\n\n{why}".strip(),
        model=alert.model,
        model_version=alert.labels.get("version"),
        source=alert.labels["source"],
        signals=[_signal_entry(alert, fingerprint(alert.labels), reasons)],
        labels=dict(alert.labels),
        group_key=key,
        runbook=runbook,
        runbook_response=policy.runbook_response(runbook) if runbook else None,
        details={
            "alertname": alert.alertname,
            "reasons": reasons,
            "starts_at": alert.starts_at.isoformat(),
        },
    )


def _raise_severity(
    session: Session,
    incident: IncidentRow,
    severity: Severity,
    alert: Alert,
    now: datetime,
    policy: AlertPolicy,
) -> None:
    if severity.is_higher_than(Severity(incident.severity)):
        incident_service.set_severity(
            session,
            incident=incident,
            severity=severity,
            actor=SYSTEM,
            now=now,
            policy=policy.severity,
            reason=f"alert {alert.alertname} is {severity}",
        )


def _resolve(
    session: Session,
    row: AlertRow | None,
    alert: Alert,
    fp: str,
    now: datetime,
    policy: AlertPolicy,
) -> ProcessResult:
    if row is None or row.status != AlertStatus.FIRING:
        return ProcessResult(fp, Outcome.IGNORED, None)
    row.status = AlertStatus.RESOLVED.value
    row.ends_at = alert.ends_at or now
    row.last_seen_at = now
    incident = session.get(IncidentRow, row.incident_id) if row.incident_id else None
    if incident is None:
        return ProcessResult(fp, Outcome.RESOLVED, None)
    record(
        session,
        incident,
        kind=TimelineKind.ALERT_RESOLVED,
        text=f"Alert {alert.alertname} cleared",
        actor=alert.labels["source"],
        at=now,
        details={"fingerprint": fp},
    )
    if policy.auto_resolve and Status(incident.status).is_open and not _firing(session, incident):
        job_table.enqueue_job(
            session,
            kind=AUTO_RESOLVE_JOB,
            key=f"autoresolve:{incident.id}:{row.id}:{now.isoformat()}",
            payload={
                "incident_id": incident.id,
                "quiet_period_s": policy.resolve_quiet_period.total_seconds(),
            },
            due_at=now + policy.resolve_quiet_period,
            now=now,
            incident_id=incident.id,
        )
    return ProcessResult(fp, Outcome.RESOLVED, incident.display_id)


def _firing(session: Session, incident: IncidentRow) -> list[AlertRow]:
    return list(
        session.scalars(
            select(AlertRow).where(
                AlertRow.incident_id == incident.id, AlertRow.status == AlertStatus.FIRING
            )
        )
    )


def auto_resolve(
    session: Session, *, incident_id: int, quiet_period: timedelta, now: datetime
) -> bool:
    """Resolve the incident if its alerts are all clear and have been for the quiet period."""
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


def _upsert(
    session: Session,
    row: AlertRow | None,
    alert: Alert,
    fp: str,
    severity: Severity,
    incident_id: int,
    now: datetime,
) -> None:
    if row is None:
        row = AlertRow(fingerprint=fp)
        session.add(row)
    row.alertname = alert.alertname
    row.model = alert.model
    row.source = alert.labels["source"]
    row.severity = severity.value
    row.status = AlertStatus.FIRING.value
    row.labels = dict(alert.labels)
    row.annotations = dict(alert.annotations)
    row.signals = _signals(alert)
    row.starts_at = alert.starts_at
    row.ends_at = None
    row.last_seen_at = now
    row.incident_id = incident_id
    session.flush()


def _summary(alert: Alert) -> str:
    return (
        alert.annotations.get("summary") or f"{alert.alertname}: {alert.model or 'unknown model'}"
    )


def _signals(alert: Alert) -> dict[str, object]:
    return alert.signals.model_dump(exclude_none=True) if alert.signals else {}


def _signal_entry(alert: Alert, fp: str, reasons: list[str]) -> dict[str, object]:
    return {
        "alertname": alert.alertname,
        "fingerprint": fp,
        "source": alert.labels["source"],
        "starts_at": alert.starts_at.isoformat(),
        "observed": _signals(alert),
        "reasons": reasons,
    }
