"""Alert tables: the durable ingest log, the current state of every alert identity (one row per
fingerprint), and silences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from firewatch.store.base import Base, BigIntPK, JSONType, UTCDateTime


class AlertLogRow(Base):
    """A batch of alerts as received (committed before the sender gets its 2xx), until processed."""

    __tablename__ = "alert_log"
    __table_args__ = ({"sqlite_autoincrement": True},)  # ids never reused: the cursor relies on it

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))  # the decoder: alertmanager, grafana, firewatch
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(Integer)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    error: Mapped[str | None] = mapped_column(
        Text
    )  # set when processing failed: kept for operators


class AlertRow(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_incident_id_status", "incident_id", "status"),
        # pruning reads resolved alerts only; new (firing) alerts pay nothing for this index
        Index(
            "ix_alerts_resolved_ends_at",
            "ends_at",
            sqlite_where=text("status = 'resolved'"),
            postgresql_where=text("status = 'resolved'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(16), unique=True)
    alertname: Mapped[str] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    suppressed_by: Mapped[str | None] = mapped_column(String(100))
    labels: Mapped[dict[str, str]] = mapped_column(JSONType)
    annotations: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    signals: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    incident_id: Mapped[int | None] = mapped_column(BigInteger)


class SilenceRow(Base):
    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    matchers: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
