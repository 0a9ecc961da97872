"""Event-log consumers: each reads events past its cursor and reacts, at least once, idempotently.

A consumer's handler runs inside the writer's transaction together with the cursor advance, so
what it writes (usually jobs to enqueue) happens exactly once per event. Anything slow or
external (HTTP, SMTP, runbook steps) belongs in a job, not in a handler.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy.orm import Session

from firewatch.clock import Clock
from firewatch.store import events as event_log
from firewatch.store.db import Database
from firewatch.store.events import Event
from firewatch.store.wake import wait_or_timeout
from firewatch.store.writer import Writer

log = logging.getLogger(__name__)

EventHandler = Callable[[Session, Event], None]


class EventConsumer:
    """Feeds events of the given types to ``handler`` and advances the cursor named ``name``."""

    def __init__(
        self,
        name: str,
        handler: EventHandler,
        *,
        db: Database,
        writer: Writer,
        clock: Clock,
        types: frozenset[str] | None = None,
        batch_size: int = 200,
    ) -> None:
        self.name = name
        self.handler = handler
        self.types = types
        self.db = db
        self.writer = writer
        self.clock = clock
        self.batch_size = batch_size
        self.wake = asyncio.Event()
        self.processed = 0
        self.failures = 0

    async def run_once(self) -> int:
        """Handle the next batch of events; returns how many were handled (0 when caught up)."""
        batch = await asyncio.to_thread(self._read)
        if not batch:
            return 0
        return await self.writer.run(lambda session: self._handle(session, batch))

    async def run_forever(self, poll_interval: float = 0.5) -> None:
        """Process events as they come: woken by in-process commits, polling for other processes."""
        while True:
            self.wake.clear()
            try:
                while await self.run_once():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:  # keep consuming; the failed batch is retried next round
                log.exception("consumer %s failed; retrying", self.name)
                await asyncio.sleep(poll_interval)
            await wait_or_timeout(self.wake, poll_interval)

    def _read(self) -> list[Event]:
        with self.db.read_session() as session:
            position = event_log.cursor_position(session, self.name)
            return event_log.read_events(session, after=position, limit=self.batch_size)

    def _handle(self, session: Session, batch: list[Event]) -> int:
        # Re-read the cursor inside the write transaction: another process may have moved it.
        position = event_log.cursor_position(session, self.name)
        handled = 0
        for event in batch:
            if event.id <= position:
                continue
            if self.types is None or event.type in self.types:
                try:
                    with session.begin_nested():
                        self.handler(session, event)
                except Exception:
                    # A handler that fails on one event must not block every later one; it is
                    # logged with the event id and counted in firewatch_consumer_failures_total.
                    self.failures += 1
                    log.exception("consumer %s could not handle event %d", self.name, event.id)
            handled += 1
        event_log.advance_cursor(session, self.name, batch[-1].id, at=self.clock.now())
        self.processed += handled
        return handled
