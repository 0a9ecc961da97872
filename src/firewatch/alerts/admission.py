"""Backpressure on alert ingest: keep the backlog of accepted-but-unprocessed alerts bounded.

Senders that outrun the processor for long (a flood of ever-new alerts) are slowed down rather
than let the backlog, and so the delay before an incident opens, grow without end: a request
that finds the backlog over the limit waits for it to drain (a closed-loop sender such as
Alertmanager then sends at the rate Firewatch processes), and after ``wait`` is answered 503 with
``Retry-After`` — Alertmanager and Prometheus retry a 5xx; nothing of that request is kept.

The backlog is counted from the journal every ``refresh`` seconds plus what was accepted since,
so the request path never queries for it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from firewatch.alerts.journal import Journal
from firewatch.errors import Overloaded


@dataclass
class Admission:
    journal: Journal
    limit: int  # alerts waiting; 0 = no limit
    wait: float  # seconds a request may wait for the backlog to drain before a 503
    refresh: float = 0.2
    poll: float = 0.02
    refused: int = 0  # requests answered 503
    _counted: int = 0
    _since: int = 0
    _counted_at: float = field(default=float("-inf"))
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def backlog(self) -> int:
        """Alerts accepted and not processed yet (as of the last count, plus those since)."""
        return self._counted + self._since

    async def admit(self) -> None:
        """Return when there is room for another batch; `Overloaded` if none came in time."""
        if self.limit <= 0:
            return
        await self._recount()
        if self.backlog < self.limit:
            return
        deadline = time.monotonic() + self.wait
        while time.monotonic() < deadline:
            await asyncio.sleep(self.poll)
            await self._recount()
            if self.backlog < self.limit:
                return
        self.refused += 1
        raise Overloaded(
            f"Firewatch is {self.backlog:,} alerts behind (limit {self.limit:,}); nothing from "
            "this request was stored: send it again after the Retry-After delay",
            code="alert_backlog_full",
            details={"backlog": self.backlog, "limit": self.limit},
        )

    def accepted(self, count: int) -> None:
        self._since += count

    async def _recount(self) -> None:
        if time.monotonic() - self._counted_at < self.refresh or self._lock.locked():
            return
        async with self._lock:
            since = self._since
            counted, _oldest = await asyncio.to_thread(self.journal.backlog)
            # what was accepted while counting may or may not be in the count: keep it (an
            # overestimate by one refresh at most, never an underestimate)
            self._counted, self._since = counted, self._since - since
            self._counted_at = time.monotonic()
