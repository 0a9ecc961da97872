"""The single writer: batches commits, isolates a failing unit, and wakes hooks after commit."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from firewatch.clock import FakeClock
from firewatch.errors import Conflict
from firewatch.people.models import PersonRow
from firewatch.people.schemas import PersonIn
from firewatch.people.service import upsert_person
from firewatch.store.db import Database
from firewatch.store.events import EVENTS_APPENDED, append_event
from firewatch.store.writer import Writer, WriterStopped


def add(handle: str, clock: FakeClock) -> Any:
    return lambda s: upsert_person(s, person=PersonIn(handle=handle), now=clock.now()).handle


def count(db: Database) -> int:
    with db.read_session() as s:
        return int(s.scalar(select(func.count()).select_from(PersonRow)) or 0)


async def test_many_units_share_few_commits(db: Database, writer: Writer, clock: FakeClock) -> None:
    results = await asyncio.gather(*(writer.run(add(f"p{i}", clock)) for i in range(200)))
    assert sorted(results) == sorted(f"p{i}" for i in range(200))
    assert count(db) == 200
    assert writer.batches < 200  # group commit


async def test_a_failing_unit_is_rolled_back_alone(
    db: Database, writer: Writer, clock: FakeClock
) -> None:
    def bad(session: Session) -> None:
        upsert_person(session, person=PersonIn(handle="half-done"), now=clock.now())
        raise Conflict("no")

    outcomes = await asyncio.gather(
        writer.run(add("a", clock)),
        writer.run(bad),
        writer.run(add("b", clock)),
        return_exceptions=True,
    )
    assert outcomes[0] == "a" and outcomes[2] == "b"
    assert isinstance(outcomes[1], Conflict)
    with db.read_session() as s:
        handles = set(s.scalars(select(PersonRow.handle)))
    assert handles == {"a", "b"}


async def test_commit_hooks_see_what_the_transaction_did(writer: Writer, clock: FakeClock) -> None:
    seen: list[dict[str, Any]] = []
    done = threading.Event()

    def hook(info: dict[str, Any]) -> None:
        seen.append(info)
        done.set()

    writer.add_commit_hook(hook)
    await writer.run(lambda s: append_event(s, type="t", payload={}, at=clock.now()))
    assert done.wait(5)
    assert seen[-1].get(EVENTS_APPENDED) is True


def test_read_sessions_cannot_write(sqlite_db: Database) -> None:
    with pytest.raises(Exception, match=r"readonly|read-only"), sqlite_db.read_session() as s:
        s.execute(text("INSERT INTO incident_counters (year, last_number) VALUES (1, 1)"))


def test_stopped_writer_refuses(sqlite_db: Database) -> None:
    writer = Writer(sqlite_db)
    with pytest.raises(WriterStopped):
        writer.submit(lambda s: None)
