"""Incident tables: the record, its timeline, its roles and the per-year id counter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from firewatch.people.models import PersonRow
from firewatch.store.base import Base, BigIntPK, JSONType, UTCDateTime

_OPEN = "status IN ('triggered', 'acknowledged', 'investigating', 'mitigated')"


class IncidentRow(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("year", "number"),
        # At most one open incident per group key (default: per model) — enforced by the database.
        Index(
            "uq_incidents_open_group_key",
            "group_key",
            unique=True,
            sqlite_where=text(f"group_key IS NOT NULL AND {_OPEN}"),
            postgresql_where=text(f"group_key IS NOT NULL AND {_OPEN}"),
        ),
        Index("ix_incidents_opened_at", "opened_at"),
        Index("ix_incidents_status_severity", "status", "severity"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    display_id: Mapped[str] = mapped_column(String(32), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(200), index=True)
    model_version: Mapped[str | None] = mapped_column(String(100))
    group_key: Mapped[str | None] = mapped_column(String(500))
    runbook: Mapped[str | None] = mapped_column(String(100))
    signals: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    labels: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    root_cause: Mapped[str | None] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(Text)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    runbook_response_s: Mapped[int | None] = mapped_column(Integer)
    drill_run_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    """Set when the incident was opened by a drill (``drill_runs.id``): not a real incident."""
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mitigated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolution_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    assigned_to: Mapped[PersonRow | None] = relationship(foreign_keys=[assigned_to_id])
    acknowledged_by: Mapped[PersonRow | None] = relationship(foreign_keys=[acknowledged_by_id])
    timeline: Mapped[list[TimelineEntryRow]] = relationship(
        back_populates="incident", order_by="TimelineEntryRow.id", cascade="all, delete-orphan"
    )
    roles: Mapped[list[IncidentRoleRow]] = relationship(
        back_populates="incident", cascade="all, delete-orphan"
    )


class TimelineEntryRow(Base):
    __tablename__ = "timeline_entries"
    __table_args__ = (Index("ix_timeline_entries_incident_id_at", "incident_id", "at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    incident: Mapped[IncidentRow] = relationship(back_populates="timeline")


class IncidentRoleRow(Base):
    __tablename__ = "incident_roles"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)

    incident: Mapped[IncidentRow] = relationship(back_populates="roles")
    person: Mapped[PersonRow] = relationship()


class IncidentCounterRow(Base):
    """The last incident number handed out per year (INC-YYYY-NNN)."""

    __tablename__ = "incident_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(BigInteger)
