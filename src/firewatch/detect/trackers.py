"""Pure state machines that decide when an observation stream becomes an alert and when it clears.

They hold no I/O and no clock of their own, so every threshold edge is unit-tested directly.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class Transition(StrEnum):
    FIRE = "fire"
    CLEAR = "clear"


@dataclass
class ConsecutiveTracker:
    """Fires after ``failure_threshold`` failures in a row; clears after ``recovery_threshold``
    successes in a row (Kubernetes probe semantics)."""

    failure_threshold: int
    recovery_threshold: int = 1
    failures: int = 0
    successes: int = 0
    firing: bool = False

    def observe(self, ok: bool) -> Transition | None:
        if ok:
            self.successes += 1
            self.failures = 0
            if self.firing and self.successes >= self.recovery_threshold:
                self.firing = False
                return Transition.CLEAR
            return None
        self.failures += 1
        self.successes = 0
        if not self.firing and self.failures >= self.failure_threshold:
            self.firing = True
            return Transition.FIRE
        return None


@dataclass(frozen=True)
class Rate:
    requests: float
    errors: float

    @property
    def ratio(self) -> float:
        return self.errors / self.requests if self.requests > 0 else 0.0


@dataclass
class CounterWindow:
    """Increases of two cumulative counters over a sliding time window, surviving counter resets
    (a process restart drops a counter to zero: the new value counts as the increase)."""

    window: timedelta
    _samples: deque[tuple[datetime, float, float]] = field(default_factory=deque)
    _offset_requests: float = 0.0
    _offset_errors: float = 0.0
    _last: tuple[float, float] | None = None

    def add(self, at: datetime, requests: float, errors: float) -> None:
        if self._last is not None:
            last_requests, last_errors = self._last
            if requests < last_requests or errors < last_errors:
                self._offset_requests += last_requests
                self._offset_errors += last_errors
        self._last = (requests, errors)
        self._samples.append((at, requests + self._offset_requests, errors + self._offset_errors))
        while len(self._samples) > 2 and self._samples[1][0] <= at - self.window:
            self._samples.popleft()

    def span(self) -> timedelta | None:
        """Time between the oldest and newest kept samples (None with < 2 samples)."""
        if len(self._samples) < 2:
            return None
        return self._samples[-1][0] - self._samples[0][0]

    def rate(self) -> Rate | None:
        """Increase over the window (from the oldest kept sample), or None with < 2 samples."""
        if len(self._samples) < 2:
            return None
        _, first_requests, first_errors = self._samples[0]
        _, last_requests, last_errors = self._samples[-1]
        return Rate(last_requests - first_requests, last_errors - first_errors)


@dataclass
class ThresholdTracker:
    """Fires when the error ratio exceeds ``threshold`` over at least ``min_requests`` requests;
    clears when it falls back to or below the threshold."""

    threshold: float
    min_requests: int
    firing: bool = False

    def observe(self, rate: Rate | None) -> Transition | None:
        if rate is None or rate.requests < self.min_requests:
            return None
        above = rate.ratio > self.threshold
        if above and not self.firing:
            self.firing = True
            return Transition.FIRE
        if not above and self.firing:
            self.firing = False
            return Transition.CLEAR
        return None
