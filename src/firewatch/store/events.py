"""The durable event log (outbox): domain events appended in the changing transaction, read by consumers.

Each consumer keeps its own cursor (the id of the last event it finished). Event ids must become
visible in increasing order or a consumer could skip one: SQLite has a single writer, and on
PostgreSQL every appending transaction takes one transaction-scoped advisory lock before it
inserts, so appends commit in id order there too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String, delete, func, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from firewatch.store.base import Base, BigIntPK, JSONType, UTCDateTime

EVENT_LOG_LOCK_ID = 0x46697265  # "Fire": the advisory lock serialising event appends on PostgreSQL
EVENTS_APPENDED = "firewatch.events_appended"
"""Key set in ``session.info`` when a transaction appended events (the writer's hooks read it)."""


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = ({"sqlite_autoincrement": True},)  # never reuse an id after pruning

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    schema_version: Mapped[int] = mapped_column(Integer, default=1)
    incident_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConsumerCursorRow(Base):
    __tablename__ = "consumer_cursors"

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class Event:
    """One domain event as consumers see it."""

    id: int
    type: str
    schema_version: int
    incident_id: int | None
    payload: dict[str, Any]
    created_at: datetime


def append_event(
    session: Session,
    *,
    type: str,
    payload: dict[str, Any],
    at: datetime,
    incident_id: int | None = None,
    schema_version: int = 1,
) -> None:
    """Append an event in the caller's transaction; it becomes visible when that commits."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": EVENT_LOG_LOCK_ID})
    session.add(
        EventRow(
            type=type,
            schema_version=schema_version,
            incident_id=incident_id,
            payload=payload,
            created_at=at,
        )
    )
    session.info[EVENTS_APPENDED] = True


def read_events(
    session: Session, *, after: int, limit: int = 100, types: frozenset[str] | None = None
) -> list[Event]:
    """Events with id greater than ``after``, oldest first."""
    query = select(EventRow).where(EventRow.id > after).order_by(EventRow.id).limit(limit)
    if types is not None:
        query = query.where(EventRow.type.in_(sorted(types)))
    return [
        Event(r.id, r.type, r.schema_version, r.incident_id, dict(r.payload), r.created_at)
        for r in session.scalars(query)
    ]


def cursor_position(session: Session, consumer: str) -> int:
    row = session.get(ConsumerCursorRow, consumer)
    return row.position if row else 0


def advance_cursor(session: Session, consumer: str, position: int, *, at: datetime) -> None:
    """Move ``consumer``'s cursor forward to ``position`` (never backwards)."""
    row = session.get(ConsumerCursorRow, consumer)
    if row is None:
        session.add(ConsumerCursorRow(consumer=consumer, position=position, updated_at=at))
    elif position > row.position:
        row.position = position
        row.updated_at = at


def last_event_id(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.max(EventRow.id), 0))) or 0)


def prune_events(session: Session, *, before: datetime, consumers: list[str]) -> int:
    """Delete events older than ``before`` that every named consumer has already processed."""
    positions = [cursor_position(session, name) for name in consumers]
    safe = min(positions) if positions else last_event_id(session)
    result = session.execute(
        delete(EventRow).where(EventRow.created_at < before, EventRow.id <= safe)
    )
    return int(getattr(result, "rowcount", 0) or 0)
