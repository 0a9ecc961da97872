"""The single writer: every database write of this process goes through one thread, in batches.

Callers hand the writer a *unit of work* — a function taking a `Session` — and get its result
once the transaction that ran it has committed. The writer drains whatever units are queued,
runs each inside its own SAVEPOINT (a failing unit is rolled back alone and its caller gets the
exception), and commits them together: one ``BEGIN IMMEDIATE`` and one fsync for many writes.
Units must only touch the database: no network calls, no sleeping.

Usage::

    writer = Writer(db); writer.start()
    incident = await writer.run(lambda s: incident_service.open_incident(s, ...))
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from firewatch.store.db import Database

T = TypeVar("T")
UnitOfWork = Callable[[Session], T]
CommitHook = Callable[[dict[str, Any]], None]

log = logging.getLogger(__name__)


class WriterStopped(RuntimeError):
    """The writer is not running, so the write was not attempted."""


@dataclass
class _Job:
    fn: Callable[[Session], Any]
    isolated: bool = True
    future: Future[Any] = field(default_factory=Future)


_STOP = object()


class Writer:
    """Serialises and batches this process's writes through one thread and one connection."""

    def __init__(self, db: Database, *, max_batch: int = 512) -> None:
        self.db = db
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._hooks: list[CommitHook] = []
        self.batches = 0
        self.units = 0

    def add_commit_hook(self, hook: CommitHook) -> None:
        """Call ``hook(session.info)`` after every commit (e.g. to wake event consumers)."""
        self._hooks.append(hook)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._thread = threading.Thread(target=self._loop, name="firewatch-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish every queued unit, then stop the thread."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None

    def submit(self, fn: UnitOfWork[T], *, isolated: bool = True) -> Future[T]:
        """Queue a unit of work; the future resolves after its transaction commits.

        ``isolated=False`` skips the unit's SAVEPOINT: for units that cannot fail alone (a plain
        append), where the savepoint would cost more than the write."""
        if not self.running:
            raise WriterStopped("the database writer is not running")
        job = _Job(fn, isolated)
        self._queue.put(job)
        return job.future

    async def run(self, fn: UnitOfWork[T], *, isolated: bool = True) -> T:
        """Run a unit of work and return its result once committed."""
        return await asyncio.wrap_future(self.submit(fn, isolated=isolated))

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            batch: list[_Job] = []
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stopping = True
                elif isinstance(item, _Job):
                    batch.append(item)
                if len(batch) >= self.max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._execute(batch)

    def _execute(self, batch: list[_Job]) -> None:
        live = [job for job in batch if job.future.set_running_or_notify_cancel()]
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        info: dict[str, Any] = {}
        try:
            with self.db.write_session() as session:
                for job in live:
                    try:
                        if job.isolated:
                            with session.begin_nested():
                                result = job.fn(session)
                        else:
                            result = job.fn(session)
                        outcomes.append((job, result, None))
                    except Exception as exc:  # the unit's caller receives its own exception
                        outcomes.append((job, None, exc))
                info = dict(session.info)
        except Exception as exc:  # the commit itself failed: nobody's write happened
            log.exception("database write batch of %d failed", len(live))
            for job in live:
                job.future.set_exception(exc)
            return
        self.batches += 1
        self.units += len(live)
        for job, result, error in outcomes:
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(result)
        for hook in self._hooks:
            try:
                hook(info)
            except Exception:  # a hook must never take the writer down
                log.exception("writer commit hook failed")
