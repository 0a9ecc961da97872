"""The signal store: the latest value of each (model, signal) and a bounded per-minute history
that anomaly rules take their baseline from."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

HISTORY = timedelta(hours=24)


@dataclass(frozen=True)
class Sample:
    at: datetime
    value: float
    context: dict[str, Any] = field(default_factory=dict)  # e.g. a per-version breakdown


@dataclass
class _Series:
    latest: Sample | None = None
    minutes: deque[tuple[datetime, float, int]] = field(default_factory=deque)  # minute, sum, n


class SignalStore:
    """Bounded: one latest sample and at most ``HISTORY`` of per-minute means per series."""

    def __init__(self, history: timedelta = HISTORY) -> None:
        self.history = history
        self._series: dict[tuple[str, str], _Series] = {}

    def record(self, model: str, signal: str, sample: Sample) -> None:
        series = self._series.setdefault((model, signal), _Series())
        series.latest = sample
        minute = sample.at.replace(second=0, microsecond=0)
        if series.minutes and series.minutes[-1][0] == minute:
            _, total, count = series.minutes[-1]
            series.minutes[-1] = (minute, total + sample.value, count + 1)
        else:
            series.minutes.append((minute, sample.value, 1))
        while series.minutes and series.minutes[0][0] < sample.at - self.history:
            series.minutes.popleft()

    def forget(self, model: str, signal: str) -> None:
        """No current value (too little data to judge); the history stays for baselines."""
        series = self._series.get((model, signal))
        if series is not None:
            series.latest = None

    def latest(self, model: str, signal: str) -> Sample | None:
        series = self._series.get((model, signal))
        return series.latest if series else None

    def baseline(
        self, model: str, signal: str, *, since: datetime, before: datetime
    ) -> list[float]:
        """Per-minute means in [since, before) — the current minute is never its own baseline."""
        series = self._series.get((model, signal))
        if series is None:
            return []
        return [total / n for minute, total, n in series.minutes if since <= minute < before]
