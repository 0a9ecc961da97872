"""The alert journal: where an accepted batch is made durable before the sender's 2xx, and where
the processor takes it from. Two implementations behind one interface:

* `SqliteJournal` (with SQLite): a journal file of its own beside the database, written through
  the driver. SQLite has one writer per file, so a journal apart from the main database means
  accepting alerts never waits for processing to commit, and processing never waits for ingest.
* `TableJournal` (with PostgreSQL, which has no such lock): the ``alert_log`` table.

The processor commits its changes to the main database, then forgets the batches: a crash in
between processes a batch twice, which the pipeline's deduplication makes harmless (a firing
alert seen again is a repeat; a clear of a cleared alert is ignored).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Container, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import make_url

from firewatch.alerts import log as table_log
from firewatch.alerts.log import LoggedBatch
from firewatch.store.db import Database


class Journal(Protocol):
    async def append(
        self, *, source: str, payload: bytes, count: int, received_at: datetime
    ) -> int:
        """Make the batch durable; returns its id (increasing)."""

    def read_pending(self, *, max_alerts: int, in_memory: Container[int] = ()) -> list[LoggedBatch]:
        """The oldest unprocessed batches, about ``max_alerts`` alerts (blocking: call off-loop)."""

    def forget(self, ids: Sequence[int]) -> None: ...

    def set_aside(self, batch_id: int, error: str) -> None:
        """Keep a batch that cannot be processed out of the way, with the reason."""

    def backlog(self) -> tuple[int, datetime | None]:
        """Alerts accepted but not processed yet, and when the oldest arrived."""


def open_journal(db: Database) -> Journal:
    if db.is_sqlite:
        database = make_url(db.url).database
        if not database or database == ":memory:":
            raise ValueError("Firewatch needs a SQLite file, not an in-memory database")
        return SqliteJournal(Path(f"{database}-alerts"))
    return TableJournal(db)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    received_at TEXT NOT NULL,
    count INTEGER NOT NULL,
    payload BLOB NOT NULL,
    error TEXT
)
"""


class SqliteJournal:
    """A journal file of its own; one connection per thread, WAL, ``synchronous=NORMAL`` (a
    process crash loses nothing committed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._connection().executescript(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
        return connection

    async def append(
        self, *, source: str, payload: bytes, count: int, received_at: datetime
    ) -> int:
        # On the event loop: one small insert and commit (tens of microseconds) is cheaper than a
        # hop to a thread and back. The only other writer, the processor's delete, is brief.
        cursor = self._connection().execute(
            "INSERT INTO alert_log (source, received_at, count, payload) VALUES (?, ?, ?, ?) "
            "RETURNING id",
            (source, received_at.astimezone(UTC).isoformat(), count, payload),
        )
        return int(cursor.fetchone()[0])

    def read_pending(self, *, max_alerts: int, in_memory: Container[int] = ()) -> list[LoggedBatch]:
        connection = self._connection()
        sizes = connection.execute(
            "SELECT id, count FROM alert_log WHERE error IS NULL ORDER BY id LIMIT ?",
            (max(1, max_alerts),),
        ).fetchall()
        chosen = table_log.choose_batches(sizes, max_alerts)
        if not chosen:
            return []
        held = [i for i in chosen if i in in_memory]
        rest = [i for i in chosen if i not in in_memory]
        batches = [
            LoggedBatch(i, source, datetime.fromisoformat(at), b"")
            for i, source, at in self._rows("id, source, received_at", held)
        ]
        batches += [
            LoggedBatch(i, source, datetime.fromisoformat(at), bytes(payload))
            for i, source, at, payload in self._rows("id, source, received_at, payload", rest)
        ]
        return sorted(batches, key=lambda b: b.id)

    def _rows(self, columns: str, ids: list[int]) -> list[tuple[Any, ...]]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        query = f"SELECT {columns} FROM alert_log WHERE id IN ({marks})"  # noqa: S608 - fixed names
        return self._connection().execute(query, ids).fetchall()

    def forget(self, ids: Sequence[int]) -> None:
        if ids:
            marks = ",".join("?" * len(ids))
            self._connection().execute(f"DELETE FROM alert_log WHERE id IN ({marks})", list(ids))  # noqa: S608

    def set_aside(self, batch_id: int, error: str) -> None:
        self._connection().execute(
            "UPDATE alert_log SET error = ? WHERE id = ?", (error[:2000], batch_id)
        )

    def backlog(self) -> tuple[int, datetime | None]:
        count, oldest = (
            self._connection()
            .execute(
                "SELECT COALESCE(SUM(count), 0), MIN(received_at) FROM alert_log WHERE error IS NULL"
            )
            .fetchone()
        )
        return int(count), datetime.fromisoformat(oldest) if oldest else None


class TableJournal:
    """The ``alert_log`` table of the main database (PostgreSQL: row locks, no single writer)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def append(
        self, *, source: str, payload: bytes, count: int, received_at: datetime
    ) -> int:
        def write() -> int:
            with self.db.write_session() as session:
                return table_log.append(
                    session, source=source, payload=payload, count=count, received_at=received_at
                )

        return await asyncio.to_thread(write)

    def read_pending(self, *, max_alerts: int, in_memory: Container[int] = ()) -> list[LoggedBatch]:
        with self.db.read_session() as session:
            return table_log.read_pending(session, max_alerts=max_alerts, in_memory=in_memory)

    def forget(self, ids: Sequence[int]) -> None:
        with self.db.write_session() as session:
            table_log.forget(session, ids=ids)

    def set_aside(self, batch_id: int, error: str) -> None:
        with self.db.write_session() as session:
            table_log.set_aside(session, batch_id=batch_id, error=error)

    def backlog(self) -> tuple[int, datetime | None]:
        with self.db.read_session() as session:
            return table_log.backlog(session)
