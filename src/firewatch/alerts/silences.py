"""Silences: label matchers and a time range during which matching alerts open no incident."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from firewatch.alerts.matchers import Matcher, parse_matchers
from firewatch.alerts.models import SilenceRow
from firewatch.duration import Duration
from firewatch.errors import Conflict, InvalidInput, NotFound


class SilenceState(StrEnum):
    ACTIVE = "active"
    PENDING = "pending"
    EXPIRED = "expired"


class SilenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    matchers: list[str] = Field(
        min_length=1, description='e.g. ["model=iris", "alertname=~High.*"]'
    )
    starts_at: datetime | None = Field(None, description="Default: now.")
    ends_at: datetime | None = Field(None, description="Give this or duration.")
    duration: Duration | None = Field(None, description="e.g. 2h; from starts_at.")
    comment: str = Field("", max_length=2000)

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, value: list[str]) -> list[str]:
        parse_matchers(value)
        return value

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2026-12-01T02:00:00Z")
        return value


class SilenceOut(BaseModel):
    id: int
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    state: SilenceState


def state_of(row: SilenceRow, now: datetime) -> SilenceState:
    if row.ends_at <= now:
        return SilenceState.EXPIRED
    return SilenceState.PENDING if row.starts_at > now else SilenceState.ACTIVE


def to_schema(row: SilenceRow, now: datetime) -> SilenceOut:
    matchers = [str(Matcher.from_dict(m)) for m in row.matchers]
    return SilenceOut(
        id=row.id,
        matchers=matchers,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        created_by=row.created_by,
        comment=row.comment,
        state=state_of(row, now),
    )


def create_silence(
    session: Session, *, silence: SilenceIn, created_by: str, now: datetime
) -> SilenceRow:
    matchers = parse_matchers(silence.matchers)
    if all(m.matches({}) for m in matchers):
        raise InvalidInput(
            "a silence needs at least one matcher that does not match an empty label "
            "(it would silence everything)",
            code="silence_matches_everything",
        )
    starts = silence.starts_at or now
    if silence.ends_at is not None and silence.duration is not None:
        raise InvalidInput("give ends_at or duration, not both", code="invalid_silence")
    if silence.ends_at is None and silence.duration is None:
        raise InvalidInput("give ends_at or duration (e.g. 2h)", code="invalid_silence")
    ends = silence.ends_at or starts + (silence.duration or timedelta(0))
    if ends <= starts:
        raise InvalidInput("the silence must end after it starts", code="invalid_silence")
    if ends <= now:
        raise InvalidInput("the silence would already be over", code="invalid_silence")
    row = SilenceRow(
        matchers=[m.to_dict() for m in matchers],
        starts_at=starts,
        ends_at=ends,
        created_by=created_by,
        comment=silence.comment,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def expire_silence(session: Session, *, silence_id: int, now: datetime) -> SilenceRow:
    row = session.get(SilenceRow, silence_id)
    if row is None:
        raise NotFound(f"no silence {silence_id}", code="unknown_silence")
    if row.ends_at <= now:
        raise Conflict(f"silence {silence_id} has already expired", code="silence_expired")
    row.ends_at = now
    return row


def list_silences(
    session: Session, *, now: datetime, include_expired: bool = False, limit: int = 200
) -> list[SilenceOut]:
    query = select(SilenceRow).order_by(SilenceRow.ends_at.desc()).limit(limit)
    if not include_expired:
        query = query.where(SilenceRow.ends_at > now)
    return [to_schema(row, now) for row in session.scalars(query)]


def active_silences(session: Session, *, now: datetime) -> list[tuple[int, tuple[Matcher, ...]]]:
    rows = session.scalars(
        select(SilenceRow).where(SilenceRow.starts_at <= now, SilenceRow.ends_at > now)
    )
    return [(row.id, tuple(Matcher.from_dict(m) for m in row.matchers)) for row in rows]
