"""When observations become an alert and when it clears: thresholds, windows, counter resets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from firewatch.detect.trackers import (
    ConsecutiveTracker,
    CounterWindow,
    Rate,
    ThresholdTracker,
    Transition,
)

T0 = datetime(2026, 1, 15, 14, 30, tzinfo=UTC)


def test_consecutive_failures_fire_once_and_successes_clear() -> None:
    tracker = ConsecutiveTracker(failure_threshold=3, recovery_threshold=2)
    seen = [
        tracker.observe(ok) for ok in (False, False, True, False, False, False, False, True, True)
    ]
    assert seen == [None, None, None, None, None, Transition.FIRE, None, None, Transition.CLEAR]


def test_one_success_does_not_clear_when_two_are_needed() -> None:
    tracker = ConsecutiveTracker(failure_threshold=1, recovery_threshold=2)
    assert tracker.observe(False) is Transition.FIRE
    assert [tracker.observe(ok) for ok in (True, False, True, True)] == [
        None,
        None,
        None,
        Transition.CLEAR,
    ]


def test_counter_window_rate_and_reset() -> None:
    window = CounterWindow(timedelta(seconds=30))
    window.add(T0, 100, 1)
    assert window.rate() is None
    window.add(T0 + timedelta(seconds=10), 200, 11)
    assert window.rate() == Rate(100, 10)
    # The process restarts: both counters start again; what they count since then is added.
    window.add(T0 + timedelta(seconds=20), 50, 25)
    assert window.rate() == Rate(100 + 50, 10 + 25)
    # Older samples fall out, keeping the last one at or before the window's start (t=15 s).
    window.add(T0 + timedelta(seconds=45), 60, 25)
    assert window.rate() == Rate(50 + 10, 25)


def test_threshold_needs_enough_requests_and_is_strictly_above() -> None:
    tracker = ThresholdTracker(threshold=0.05, min_requests=20)
    assert tracker.observe(Rate(10, 10)) is None  # too few requests to judge
    assert tracker.observe(Rate(100, 5)) is None  # exactly 5%: not above
    assert tracker.observe(Rate(100, 6)) is Transition.FIRE
    assert tracker.observe(Rate(100, 50)) is None  # still firing
    assert tracker.observe(Rate(100, 5)) is Transition.CLEAR
