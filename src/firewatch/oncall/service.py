"""Who is on call (rotation plus stored overrides), managing overrides, and resolving targets.

Usage: ``oncall_service.who(session, config=config.oncall, schedule="ml", at=clock.now())``.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from firewatch.errors import InvalidInput, NotFound
from firewatch.oncall import schedules
from firewatch.oncall.models import OncallOverrideRow
from firewatch.oncall.schedules import OnCall, OncallConfig, OverrideSpan, ScheduleConfig, Target
from firewatch.oncall.schemas import OverrideIn, OverrideOut, OverrideState, ScheduleStatus
from firewatch.people import service as people_service
from firewatch.people.models import PersonRow


def get_schedule(config: OncallConfig, name: str) -> ScheduleConfig:
    """The configured schedule ``name`` (`NotFound` naming the configured ones otherwise)."""
    schedule = config.schedule(name)
    if schedule is None:
        known = [s.name for s in config.schedules]
        raise NotFound(
            f"no on-call schedule named {name!r} (configured: {', '.join(known) or 'none'})",
            code="unknown_schedule",
            details={"known_schedules": known},
        )
    return schedule


def who(session: Session, *, config: OncallConfig, schedule: str, at: datetime) -> OnCall:
    """Who is on call in ``schedule`` at ``at``, and from when until when."""
    found = get_schedule(config, schedule)
    return schedules.on_call(found, at, _overrides_near(session, found, at, at))


def status(
    session: Session, *, config: OncallConfig, schedule: str, at: datetime
) -> ScheduleStatus:
    """Who is on call at ``at`` and who takes over next."""
    found = get_schedule(config, schedule)
    now = schedules.on_call(found, at, _overrides_near(session, found, at, at))
    after = schedules.on_call(found, now.end, _overrides_near(session, found, now.end, now.end))
    return ScheduleStatus(
        schedule=found.name, time_zone=found.time_zone, at=at, on_call=now, next=after
    )


def shifts(
    session: Session, *, config: OncallConfig, schedule: str, start: datetime, end: datetime
) -> list[OnCall]:
    """Who is on call from ``start`` to ``end``, stretch by stretch (overrides included)."""
    if end <= start:
        raise InvalidInput("the end of the period must be after its start")
    found = get_schedule(config, schedule)
    return schedules.timeline(found, start, end, _overrides_near(session, found, start, end))


def add_override(
    session: Session,
    *,
    config: OncallConfig,
    schedule: str,
    override: OverrideIn,
    created_by: str,
    now: datetime,
    declared_people: Collection[str] = (),
) -> OncallOverrideRow:
    """Store an override. ``person`` must be in the people table or ``declared_people`` (the
    config's people, which the server copies to the table at start-up)."""
    found = get_schedule(config, schedule)
    starts_at = override.starts_at or now
    if override.ends_at <= starts_at:
        raise InvalidInput(
            f"ends_at ({override.ends_at.isoformat()}) must be after starts_at "
            f"({starts_at.isoformat()})",
            code="invalid_period",
        )
    if override.ends_at <= now:
        raise InvalidInput(
            f"ends_at ({override.ends_at.isoformat()}) is in the past: an override must end "
            "after now",
            code="invalid_period",
        )
    known = override.person in declared_people or (
        session.scalar(select(PersonRow.id).where(PersonRow.handle == override.person)) is not None
    )
    if not known:
        raise InvalidInput(
            f"no person with handle {override.person!r}: declare them under people: in the config "
            "or add them with PUT /api/v1/people",
            code="unknown_person",
        )
    row = OncallOverrideRow(
        schedule=found.name,
        person=override.person,
        starts_at=starts_at,
        ends_at=override.ends_at,
        reason=override.reason,
        created_by=created_by,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def list_overrides(
    session: Session, *, now: datetime, schedule: str | None = None, include_past: bool = False
) -> list[OncallOverrideRow]:
    """Overrides by start time: current and future ones, or all with ``include_past``."""
    query = select(OncallOverrideRow).order_by(OncallOverrideRow.starts_at, OncallOverrideRow.id)
    if schedule is not None:
        query = query.where(OncallOverrideRow.schedule == schedule)
    if not include_past:
        query = query.where(OncallOverrideRow.ends_at > now)
    return list(session.scalars(query))


def delete_override(
    session: Session, *, override_id: int, schedule: str | None = None
) -> OncallOverrideRow:
    """Remove an override (the rotation answers again); `NotFound` if there is none."""
    row = session.get(OncallOverrideRow, override_id)
    if row is None or (schedule is not None and row.schedule != schedule):
        where = f" in schedule {schedule!r}" if schedule is not None else ""
        raise NotFound(f"no on-call override {override_id}{where}", code="unknown_override")
    session.delete(row)
    session.flush()
    return row


class TargetLike(Protocol):
    """A `Target`, or anything else naming a ``schedule`` or a ``person`` (escalation's own)."""

    @property
    def schedule(self) -> str | None: ...

    @property
    def person(self) -> str | None: ...


def resolve_target(
    session: Session, *, config: OncallConfig, target: Target | TargetLike, at: datetime
) -> list[PersonRow]:
    """The people ``target`` means at ``at``: the schedule's on-call person, or the person.

    `NotFound` for an unknown schedule or person; InvalidInput if it names neither."""
    if target.schedule:
        handle = who(session, config=config, schedule=target.schedule, at=at).person
    elif target.person:
        handle = target.person
    else:
        raise InvalidInput("an on-call target names a schedule or a person", code="invalid_target")
    return [people_service.get_person(session, handle=handle)]


def to_schema(row: OncallOverrideRow, now: datetime) -> OverrideOut:
    if row.ends_at <= now:
        state = OverrideState.EXPIRED
    else:
        state = OverrideState.PENDING if row.starts_at > now else OverrideState.ACTIVE
    return OverrideOut(
        id=row.id,
        schedule=row.schedule,
        person=row.person,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        reason=row.reason,
        created_by=row.created_by,
        created_at=row.created_at,
        state=state,
    )


def _overrides_near(
    session: Session, schedule: ScheduleConfig, start: datetime, end: datetime
) -> list[OverrideSpan]:
    """The overrides that can decide who is on call from ``start`` to ``end``, and where those
    stretches begin and end: those overlapping the rotation shifts and overrides around both."""
    low, high = start, end
    for at in (start, end):
        shift = schedules.rotation_shift(schedule, at)
        low, high = min(low, shift.start), max(high, shift.end)
        covering = select(OncallOverrideRow.starts_at, OncallOverrideRow.ends_at).where(
            OncallOverrideRow.schedule == schedule.name,
            OncallOverrideRow.starts_at <= at,
            OncallOverrideRow.ends_at > at,
        )
        for starts_at, ends_at in session.execute(covering):
            low, high = min(low, starts_at), max(high, ends_at)
    rows = session.scalars(
        select(OncallOverrideRow).where(
            OncallOverrideRow.schedule == schedule.name,
            OncallOverrideRow.ends_at > low,
            OncallOverrideRow.starts_at < high,
        )
    )
    return [
        OverrideSpan(
            id=r.id,
            person=r.person,
            starts_at=r.starts_at,
            ends_at=r.ends_at,
            created_at=r.created_at,
        )
        for r in rows
    ]
