"""Consumers see every event at least once, in order, and their writes commit with the cursor."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from firewatch.clock import FakeClock
from firewatch.store import events as event_log
from firewatch.store.consumer import EventConsumer
from firewatch.store.db import Database
from firewatch.store.events import Event
from firewatch.store.jobs import JobRow, enqueue_job
from firewatch.store.writer import Writer


def append(db: Database, clock: FakeClock, n: int, type_: str = "incident.opened") -> None:
    with db.write_session() as s:
        for i in range(n):
            event_log.append_event(s, type=type_, payload={"i": i}, at=clock.now())


async def test_consumer_handles_each_event_once_and_resumes_from_its_cursor(
    db: Database, writer: Writer, clock: FakeClock
) -> None:
    seen: list[int] = []

    def handler(session: Session, event: Event) -> None:
        seen.append(event.payload["i"])
        enqueue_job(
            session,
            kind="k",
            key=f"job-{event.id}",
            payload={},
            due_at=clock.now(),
            now=clock.now(),
        )

    append(db, clock, 5)
    consumer = EventConsumer("c", handler, db=db, writer=writer, clock=clock, batch_size=2)
    while await consumer.run_once():
        pass
    assert seen == [0, 1, 2, 3, 4]
    append(db, clock, 2)
    # A new consumer object (a restarted process) continues from the stored cursor.
    restarted = EventConsumer("c", handler, db=db, writer=writer, clock=clock)
    await restarted.run_once()
    assert seen == [0, 1, 2, 3, 4, 0, 1]
    with db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(JobRow)) == 7


async def test_a_failing_handler_does_not_block_later_events(
    db: Database, writer: Writer, clock: FakeClock
) -> None:
    def handler(session: Session, event: Event) -> None:
        enqueue_job(
            session,
            kind="k",
            key=f"job-{event.id}",
            payload={},
            due_at=clock.now(),
            now=clock.now(),
        )
        if event.payload["i"] == 0:
            raise RuntimeError("poison")

    append(db, clock, 2)
    consumer = EventConsumer("c", handler, db=db, writer=writer, clock=clock)
    assert await consumer.run_once() == 2
    assert consumer.failures == 1  # logged and counted in firewatch_consumer_failures_total
    with db.read_session() as s:  # the failing handler's own writes were rolled back
        assert list(s.scalars(select(JobRow.key))) == ["job-2"]


async def test_each_consumer_has_its_own_cursor(
    db: Database, writer: Writer, clock: FakeClock
) -> None:
    a: list[int] = []
    b: list[int] = []
    append(db, clock, 3)
    await EventConsumer(
        "a", lambda s, e: a.append(e.id), db=db, writer=writer, clock=clock
    ).run_once()
    append(db, clock, 1)
    await EventConsumer(
        "b", lambda s, e: b.append(e.id), db=db, writer=writer, clock=clock
    ).run_once()
    assert len(a) == 3 and len(b) == 4


async def test_type_filter_still_advances_the_cursor(
    db: Database, writer: Writer, clock: FakeClock
) -> None:
    got: list[str] = []
    append(db, clock, 2, "model.deployed")
    append(db, clock, 1, "incident.opened")
    consumer = EventConsumer(
        "c",
        lambda s, e: got.append(e.type),
        db=db,
        writer=writer,
        clock=clock,
        types=frozenset({"incident.opened"}),
    )
    await consumer.run_once()
    assert got == ["incident.opened"]
    with db.read_session() as s:
        assert event_log.cursor_position(s, "c") == event_log.last_event_id(s)


def test_prune_keeps_what_a_consumer_has_not_seen(db: Database, clock: FakeClock) -> None:
    append(db, clock, 4)
    with db.write_session() as s:
        event_log.advance_cursor(s, "slow", 2, at=clock.now())
    clock.advance(days=60)
    with db.write_session() as s:
        assert event_log.prune_events(s, before=clock.now(), consumers=["slow"]) == 2
    with db.read_session() as s:
        assert [e.id for e in event_log.read_events(s, after=0)] == [3, 4]
