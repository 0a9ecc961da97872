"""The people table: incidents, roles, schedules and escalation refer to these rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from firewatch.store.base import Base, BigIntPK, JSONType, UTCDateTime


class PersonRow(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    handle: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    contacts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
