"""The drill_runs table: one row per drill, running while it injects its fault, then its result."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from firewatch.store.base import Base, BigIntPK, JSONType, UTCDateTime

RUNNING = "running"
FINISHED = "finished"
ABANDONED = "abandoned"  # its runner vanished: past its deadline and never finished


class DrillRunRow(Base):
    __tablename__ = "drill_runs"
    __table_args__ = (
        # One running drill per model: incidents opened for the model then belong to it.
        Index(
            "uq_drill_runs_running_model",
            "model",
            unique=True,
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
        Index("ix_drill_runs_scenario_started_at", "scenario", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    scenario: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(200))
    trigger: Mapped[str] = mapped_column(String(16))  # cli | schedule | api
    status: Mapped[str] = mapped_column(String(16))  # running | finished | abandoned
    outcome: Mapped[str | None] = mapped_column(String(16))  # pass | fail | aborted
    actor: Mapped[str] = mapped_column(String(200))
    game_day: Mapped[str | None] = mapped_column(String(64))
    """Shared by the drills of one `drill run all`."""
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """A running drill past this is abandoned: it no longer marks incidents."""
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    incident_ref: Mapped[str | None] = mapped_column(String(32))
    severity: Mapped[str | None] = mapped_column(String(8))
    runbook: Mapped[str | None] = mapped_column(String(100))
    times: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    """Seconds from the fault to: detect, notify, acknowledge, mitigate, resolve."""
    failures: Mapped[list[str]] = mapped_column(JSONType, default=list)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    """SLA limits, targets, the responder's actions and the incident's timeline."""
