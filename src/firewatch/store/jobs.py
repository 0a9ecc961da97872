"""The durable job table: one-shot work with a due time (deliveries, retries, timers, runbook runs).

A job is claimed with a lease (``locked_until``) that its runner renews while it works; if the
process dies, the lease runs out and another runner (or the restarted process) takes it again,
so every job runs at least once. ``key`` is unique: enqueueing the same key twice is a no-op,
which is what makes producers idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Text, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from firewatch.store.base import Base, BigIntPK, JSONType, UTCDateTime

JOBS_ENQUEUED = "firewatch.jobs_enqueued"
"""Key set in ``session.info`` when a transaction enqueued jobs (wakes the runner after commit)."""


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


class JobRow(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.PENDING)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    last_error: Mapped[str | None] = mapped_column(Text)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    incident_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class Job:
    """A claimed job as its handler sees it."""

    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    incident_id: int | None
    due_at: datetime


def enqueue_job(
    session: Session,
    *,
    kind: str,
    key: str,
    payload: dict[str, Any],
    due_at: datetime,
    now: datetime,
    max_attempts: int = 8,
    incident_id: int | None = None,
) -> bool:
    """Add a job unless one with ``key`` already exists; True when it was added."""
    values = {
        "kind": kind,
        "key": key,
        "payload": payload,
        "status": JobStatus.PENDING.value,
        "due_at": due_at,
        "attempts": 0,
        "max_attempts": max_attempts,
        "incident_id": incident_id,
        "created_at": now,
        "updated_at": now,
    }
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(JobRow).values(**values).on_conflict_do_nothing().returning(JobRow.id)
    added = session.execute(statement).first() is not None
    if added:
        session.info[JOBS_ENQUEUED] = True
    return added


def claim_due_jobs(
    session: Session, *, now: datetime, limit: int, lease: timedelta, kinds: frozenset[str]
) -> list[Job]:
    """Lease up to ``limit`` jobs that are due (or whose lease ran out) and return them."""
    query = (
        select(JobRow)
        .where(
            JobRow.kind.in_(sorted(kinds)),
            or_(
                (JobRow.status == JobStatus.PENDING) & (JobRow.due_at <= now),
                (JobRow.status == JobStatus.RUNNING) & (JobRow.locked_until < now),
            ),
        )
        .order_by(JobRow.due_at, JobRow.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed: list[Job] = []
    for row in session.scalars(query):
        row.status = JobStatus.RUNNING
        row.attempts += 1
        row.locked_until = now + lease
        row.updated_at = now
        claimed.append(
            Job(
                row.id,
                row.kind,
                row.key,
                dict(row.payload),
                row.attempts,
                row.max_attempts,
                row.incident_id,
                row.due_at,
            )
        )
    return claimed


def renew_lease(session: Session, *, job_id: int, until: datetime) -> None:
    session.execute(
        update(JobRow)
        .where(JobRow.id == job_id, JobRow.status == JobStatus.RUNNING)
        .values(locked_until=until)
    )


def finish_job(session: Session, *, job_id: int, now: datetime) -> None:
    _set(session, job_id, now, status=JobStatus.DONE, finished_at=now, locked_until=None)


def retry_job(
    session: Session, *, job_id: int, due_at: datetime, error: str, now: datetime
) -> None:
    _set(
        session,
        job_id,
        now,
        status=JobStatus.PENDING,
        due_at=due_at,
        last_error=error[:2000],
        locked_until=None,
    )


def bury_job(session: Session, *, job_id: int, error: str, now: datetime) -> None:
    """Give up on a job: it is kept as ``dead`` for operators to see."""
    _set(
        session,
        job_id,
        now,
        status=JobStatus.DEAD,
        last_error=error[:2000],
        finished_at=now,
        locked_until=None,
    )


def next_due_at(session: Session, *, kinds: frozenset[str]) -> datetime | None:
    """When the next pending job of these kinds falls due (None if there is none)."""
    return session.scalar(
        select(JobRow.due_at)
        .where(JobRow.status == JobStatus.PENDING, JobRow.kind.in_(sorted(kinds)))
        .order_by(JobRow.due_at)
        .limit(1)
    )


def prune_finished_jobs(session: Session, *, before: datetime) -> int:
    """Delete jobs that finished (done or dead) before ``before``."""
    result = session.execute(
        delete(JobRow).where(
            JobRow.status.in_([JobStatus.DONE, JobStatus.DEAD]),
            JobRow.finished_at < before,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _set(session: Session, job_id: int, now: datetime, **values: Any) -> None:
    session.execute(update(JobRow).where(JobRow.id == job_id).values(updated_at=now, **values))
