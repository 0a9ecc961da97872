"""The on-call overrides table: who stands in for a schedule's rotation, and when (run-time state)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from firewatch.store.base import Base, BigIntPK, UTCDateTime


class OncallOverrideRow(Base):
    """``person`` is on call for ``schedule`` over ``[starts_at, ends_at)``; the newest wins."""

    __tablename__ = "oncall_overrides"
    __table_args__ = (
        # every lookup is "this schedule's overrides that have not ended before T"
        Index("ix_oncall_overrides_schedule_ends_at", "schedule", "ends_at"),
        # ids are never reused, so `override remove 3` cannot hit a newer override than meant
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    schedule: Mapped[str] = mapped_column(String(100))
    person: Mapped[str] = mapped_column(String(64))  # a handle, as the config names people
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
