"""The runbook_runs table: where each run is, so a restarted process resumes instead of restarting."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from firewatch.store.base import Base, BigIntPK, JSONType, UTCDateTime


class RunbookRunRow(Base):
    __tablename__ = "runbook_runs"
    __table_args__ = (UniqueConstraint("incident_id", "runbook"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(BigInteger, index=True)
    runbook: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))  # running | waiting | finished
    step_index: Mapped[int] = mapped_column(Integer, default=0)
    results: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    mitigated: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    waiting: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    """What the run waits for: ``{"step", "kind": "approval"|"manual", "since", "due"}``."""
    decisions: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    """A person's decisions by step id: ``{"decision": "approved"|"rejected"|"done"|"skipped",
    "actor", "at", "note"}``."""
