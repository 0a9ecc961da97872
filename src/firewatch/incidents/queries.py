"""Reading incidents: one record with its timeline, filtered pages, and response statistics."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from statistics import fmean

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, selectinload

from firewatch.incidents import sla
from firewatch.incidents.lifecycle import Status
from firewatch.incidents.models import IncidentRoleRow, IncidentRow, TimelineEntryRow
from firewatch.incidents.schemas import (
    IncidentOut,
    IncidentPage,
    IncidentSummary,
    SeverityStats,
    StatsOut,
    TimelineEntryOut,
)
from firewatch.people import service as people_service
from firewatch.severity import Severity


def summary_of(row: IncidentRow, now: datetime) -> IncidentSummary:
    return IncidentSummary(
        id=row.display_id,
        timestamp=row.opened_at,
        severity=Severity(row.severity),
        title=row.title,
        status=row.status,
        model=row.model,
        model_version=row.model_version,
        assigned_to=row.assigned_to.handle if row.assigned_to else None,
        sla=sla.sla_of(row, now),
    )


def incident_of(
    row: IncidentRow, now: datetime, timeline: list[TimelineEntryRow] | None = None
) -> IncidentOut:
    """The full record: the seed's fields, SLA state, roles and the timeline (``row.timeline``
    unless the caller loaded a selection of it)."""
    minutes = (
        round((row.resolved_at - row.opened_at).total_seconds() / 60, 2)
        if row.resolved_at
        else None
    )
    return IncidentOut(
        **summary_of(row, now).model_dump(),
        description=row.description,
        source=row.source,
        runbook=row.runbook,
        assignee=people_service.to_schema(row.assigned_to) if row.assigned_to else None,
        roles={r.role: people_service.to_schema(r.person) for r in row.roles},
        signals=list(row.signals),
        labels=dict(row.labels),
        root_cause=row.root_cause,
        resolution=row.resolution,
        acknowledged_at=row.acknowledged_at,
        mitigated_at=row.mitigated_at,
        resolved_at=row.resolved_at,
        closed_at=row.closed_at,
        resolution_time_minutes=minutes,
        timeline=[
            TimelineEntryOut(
                time=e.at, kind=e.kind, event=e.event, actor=e.actor, details=dict(e.details)
            )
            for e in (row.timeline if timeline is None else timeline)
        ],
    )


def load_incident(session: Session, *, incident_id: int, with_timeline: bool = True) -> IncidentRow:
    options = [
        selectinload(IncidentRow.roles).selectinload(IncidentRoleRow.person),
        selectinload(IncidentRow.assigned_to),
    ]
    if with_timeline:
        options.append(selectinload(IncidentRow.timeline))
    query = (
        select(IncidentRow)
        .where(IncidentRow.id == incident_id)
        .options(*options)
        .execution_options(populate_existing=True)
    )
    return session.scalars(query).one()


def full_incident(session: Session, *, incident_id: int, now: datetime) -> IncidentOut:
    """The full record of one incident, freshly loaded (flush pending changes first)."""
    session.flush()
    return incident_of(load_incident(session, incident_id=incident_id), now)


def incident_with_entries(
    session: Session, *, incident_id: int, now: datetime, kinds: Collection[str], limit: int = 20
) -> IncidentOut:
    """The record with only the latest ``limit`` timeline entries of ``kinds`` (for messages:
    an incident with a hundred thousand attached alerts is not loaded whole to send a page)."""
    row = load_incident(session, incident_id=incident_id, with_timeline=False)
    entries = list(
        session.scalars(
            select(TimelineEntryRow)
            .where(
                TimelineEntryRow.incident_id == incident_id,
                TimelineEntryRow.kind.in_(sorted(kinds)),
            )
            .order_by(TimelineEntryRow.id.desc())
            .limit(limit)
        )
    )
    return incident_of(row, now, timeline=entries[::-1])


def list_incidents(
    session: Session,
    *,
    now: datetime,
    statuses: Iterable[Status] = (),
    severities: Iterable[Severity] = (),
    model: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> IncidentPage:
    """Newest first, filtered by status, severity, model and opening time [since, until)."""
    conditions: list[ColumnElement[bool]] = []
    if status_values := [s.value for s in statuses]:
        conditions.append(IncidentRow.status.in_(status_values))
    if severity_values := [s.value for s in severities]:
        conditions.append(IncidentRow.severity.in_(severity_values))
    if model:
        conditions.append(IncidentRow.model == model)
    if since:
        conditions.append(IncidentRow.opened_at >= since)
    if until:
        conditions.append(IncidentRow.opened_at < until)
    total = session.scalar(select(func.count()).select_from(IncidentRow).where(*conditions)) or 0
    rows = session.scalars(
        select(IncidentRow)
        .where(*conditions)
        .options(selectinload(IncidentRow.assigned_to))
        .order_by(IncidentRow.opened_at.desc(), IncidentRow.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return IncidentPage(
        items=[summary_of(r, now) for r in rows], total=total, limit=limit, offset=offset
    )


def _minutes(values: list[float]) -> float | None:
    return round(fmean(values) / 60, 2) if values else None


def _share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def _summarise(rows: list[IncidentRow], now: datetime) -> SeverityStats:
    ack = [(r.acknowledged_at - r.opened_at).total_seconds() for r in rows if r.acknowledged_at]
    res = [(r.resolved_at - r.opened_at).total_seconds() for r in rows if r.resolved_at]
    response_met, resolution_met = [], []
    for r in rows:
        state = sla.sla_of(r, now)
        if sla.responded_at(r) is not None or state.response_breached:
            response_met.append(not state.response_breached)
        if r.resolved_at is not None or state.resolution_breached:
            resolution_met.append(not state.resolution_breached)
    return SeverityStats(
        count=len(rows),
        open=sum(Status(r.status).is_open for r in rows),
        mtta_minutes=_minutes(ack),
        mttr_minutes=_minutes(res),
        response_sla_met=_share(response_met),
        resolution_sla_met=_share(resolution_met),
    )


def incident_stats(
    session: Session,
    *,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    include_drills: bool = False,
) -> StatsOut:
    """MTTA, MTTM, MTTR, counts and SLA compliance of incidents opened in [since, until).

    SLA compliance counts only incidents whose outcome is known: responded (or overdue) for the
    response SLA, resolved (or overdue) for the resolution SLA. Drill incidents are not real
    ones and are left out unless ``include_drills``.
    """
    conditions: list[ColumnElement[bool]] = []
    if not include_drills:
        conditions.append(IncidentRow.drill_run_id.is_(None))
    if since:
        conditions.append(IncidentRow.opened_at >= since)
    if until:
        conditions.append(IncidentRow.opened_at < until)
    rows = list(session.scalars(select(IncidentRow).where(*conditions)))
    overall = _summarise(rows, now)
    mitigated = [(r.mitigated_at - r.opened_at).total_seconds() for r in rows if r.mitigated_at]
    return StatsOut(
        since=since,
        until=until,
        count=overall.count,
        open=overall.open,
        mtta_minutes=overall.mtta_minutes,
        mttm_minutes=_minutes(mitigated),
        mttr_minutes=overall.mttr_minutes,
        response_sla_met=overall.response_sla_met,
        resolution_sla_met=overall.resolution_sla_met,
        by_severity={
            sev.value: _summarise([r for r in rows if r.severity == sev.value], now)
            for sev in Severity
        },
    )
