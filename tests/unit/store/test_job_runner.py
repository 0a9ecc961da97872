"""The job runner: retries with backoff, honours Retry-After, never retries a GiveUp, buries."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from firewatch.clock import FakeClock
from firewatch.store.db import Database
from firewatch.store.jobs import Job, JobRow, enqueue_job, prune_finished_jobs
from firewatch.store.runner import GiveUp, JobKind, JobRunner, RetryLater
from firewatch.store.writer import Writer


def enqueue(db: Database, clock: FakeClock, key: str = "j", max_attempts: int = 3) -> None:
    with db.write_session() as s:
        assert enqueue_job(
            s,
            kind="k",
            key=key,
            payload={},
            due_at=clock.now(),
            now=clock.now(),
            max_attempts=max_attempts,
        )
        assert not enqueue_job(
            s, kind="k", key=key, payload={}, due_at=clock.now(), now=clock.now()
        )


def row(db: Database) -> JobRow:
    with db.read_session() as s:
        return s.scalars(select(JobRow)).one()


async def test_retry_after_is_honoured_and_dead_jobs_are_recorded(
    db: Database, writer: Writer, clock: FakeClock
) -> None:
    attempts: list[int] = []
    dead: list[str] = []

    async def handler(job: Job) -> None:
        attempts.append(job.attempts)
        raise RetryLater("429", after=timedelta(seconds=30))

    def on_dead(session: Session, job: Job, error: str) -> None:
        dead.append(error)

    runner = JobRunner(
        db=db,
        writer=writer,
        clock=clock,
        kinds={"k": JobKind(handler, on_dead=on_dead)},
        rng=random.Random(1),
    )
    enqueue(db, clock)
    assert await runner.run_once() == 1
    assert row(db).due_at >= clock.now() + timedelta(seconds=30)
    clock.advance(seconds=29)
    assert await runner.run_once() == 0  # not before Retry-After
    clock.advance(seconds=1)
    assert await runner.run_once() == 1
    clock.advance(minutes=1)
    assert await runner.run_once() == 1
    assert attempts == [1, 2, 3]
    assert row(db).status == "dead"
    assert dead == ["gave up after 3 attempts: 429"]


async def test_give_up_is_never_retried(db: Database, writer: Writer, clock: FakeClock) -> None:
    calls = 0

    async def handler(job: Job) -> None:
        nonlocal calls
        calls += 1
        raise GiveUp("HTTP 400")

    runner = JobRunner(db=db, writer=writer, clock=clock, kinds={"k": JobKind(handler)})
    enqueue(db, clock, max_attempts=8)
    await runner.run_once()
    clock.advance(hours=1)
    assert await runner.run_once() == 0
    assert calls == 1 and row(db).status == "dead" and row(db).last_error == "HTTP 400"


async def test_backoff_grows_and_is_capped(db: Database, writer: Writer, clock: FakeClock) -> None:
    async def handler(job: Job) -> None:
        return None

    kind = JobKind(handler, backoff_base=timedelta(seconds=1), backoff_cap=timedelta(seconds=60))
    runner = JobRunner(db=db, writer=writer, clock=clock, kinds={"k": kind}, rng=random.Random(7))
    for attempt, ceiling in ((1, 1), (2, 2), (5, 16), (30, 60)):
        samples = [runner.backoff(kind, attempt) for _ in range(200)]
        assert max(samples) <= timedelta(seconds=ceiling)
        assert min(samples) >= timedelta(0)


async def test_an_expired_lease_is_taken_again(
    db: Database, writer: Writer, clock: FakeClock
) -> None:
    ran: list[int] = []

    async def handler(job: Job) -> None:
        ran.append(job.attempts)

    enqueue(db, clock)
    # A process claims the job and dies (never finishes it).
    crashed = JobRunner(
        db=db,
        writer=writer,
        clock=clock,
        kinds={"k": JobKind(handler)},
        lease=timedelta(seconds=30),
    )
    assert len(await crashed._claim(10)) == 1
    fresh = JobRunner(db=db, writer=writer, clock=clock, kinds={"k": JobKind(handler)})
    assert await fresh.run_once() == 0  # still leased
    clock.advance(seconds=31)
    assert await fresh.run_once() == 1
    assert ran == [2] and row(db).status == "done"


async def test_finished_jobs_are_pruned_after_retention(
    db: Database, writer: Writer, clock: FakeClock
) -> None:
    async def handler(job: Job) -> None:
        return None

    enqueue(db, clock, key="done")
    enqueue(db, clock, key="later")
    runner = JobRunner(db=db, writer=writer, clock=clock, kinds={"k": JobKind(handler)})
    await runner.run_once()
    enqueue(db, clock, key="pending")
    clock.advance(days=31)
    with db.write_session() as s:
        assert prune_finished_jobs(s, before=clock.now() - timedelta(days=30)) == 2
    assert row(db).key == "pending"
