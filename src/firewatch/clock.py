"""The injected clock: all domain logic asks it for the time instead of calling `datetime.now()`."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Source of the current time as a timezone-aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to, so a 20-minute escalation is tested in milliseconds.

    Usage: ``clock = FakeClock(datetime(2026, 1, 15, 14, 30, tzinfo=UTC)); clock.advance(minutes=5)``
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 15, 14, 30, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move the clock forward by ``delta`` or by ``timedelta(**kwargs)``; returns the new time."""
        step = delta if delta is not None else timedelta(**kwargs)
        if step < timedelta(0):
            raise ValueError("a clock does not run backwards")
        with self._lock:
            self._now += step
            return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (not earlier than now)."""
        when = when.astimezone(UTC)
        with self._lock:
            if when < self._now:
                raise ValueError("a clock does not run backwards")
            self._now = when
