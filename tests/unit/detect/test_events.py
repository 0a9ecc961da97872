"""Inference-event windows: counting, joins of late and early labels, bounds, and the signals and
failure breakdowns they give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from firewatch.config import EventsConfig
from firewatch.detect.events import (
    LATENCY_BOUNDS,
    EventIn,
    LabelIn,
    ModelEvents,
    parse_events,
    parse_labels,
)
from firewatch.detect.rule_config import Signal
from firewatch.detect.signals import SignalStore
from firewatch.errors import InvalidInput

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def events(n: int, *, start: int = 0, **fields: Any) -> list[EventIn]:
    return [EventIn(request_id=f"r{i}", **fields) for i in range(start, start + n)]


def window(**config: Any) -> ModelEvents:
    settings = EventsConfig.model_validate({"min_events": 10, "min_labels": 10, **config})
    return ModelEvents("iris", settings, judge_traffic=True)


def published(model: ModelEvents, at: datetime = T0) -> dict[str, Any]:
    store = SignalStore()
    model.publish(store, at)
    return {s.value: store.latest("iris", s.value) for s in Signal if store.latest("iris", s.value)}


def test_error_rate_latency_and_request_rate_over_the_window() -> None:
    model = window()
    model.add_events(events(90, latency_ms=100.0), T0)
    model.add_events(events(10, start=90, latency_ms=2000.0, error=True), T0)
    signals = published(model)
    assert signals["error_rate"].value == pytest.approx(0.1)
    assert signals["latency_mean_s"].value == pytest.approx((90 * 0.1 + 10 * 2.0) / 100)
    p95 = signals["latency_p95_s"].value
    assert 2.0 <= p95 <= 2.0 * 1.1  # the histogram reads at most 10% high
    assert signals["request_rate"].value > 0


def test_too_few_events_are_not_judged_and_a_stale_value_is_withdrawn() -> None:
    model = window()
    model.add_events(events(50, error=True), T0)
    store = SignalStore()
    model.publish(store, T0)
    assert store.latest("iris", "error_rate") is not None
    model.publish(store, T0 + timedelta(minutes=6))  # the window moved past every event
    assert store.latest("iris", "error_rate") is None


def test_old_events_fall_out_of_the_window_and_late_ones_are_not_counted() -> None:
    model = window(window="1m")
    result = model.add_events(events(20, time=T0 - timedelta(minutes=5)), T0)
    assert (result.accepted, result.too_old) == (0, 20)
    model.add_events(events(20, start=20, time=T0), T0)
    assert published(model, T0 + timedelta(seconds=30))["error_rate"].value == 0.0
    assert "error_rate" not in published(model, T0 + timedelta(minutes=2))


def test_a_retried_batch_is_not_counted_twice() -> None:
    model = window()
    batch = [*events(15, prediction=1), *events(5, start=15, error=True)]
    model.add_events(batch, T0)
    again = model.add_events(batch, T0)
    assert (again.accepted, again.duplicates) == (0, 20)
    signals = published(model)
    assert signals["error_rate"].value == 0.25
    assert signals["error_rate"].context["requests"] == 20


def test_labels_join_late_or_early_and_give_accuracy_with_where_it_is_wrong() -> None:
    model = window()
    # v1 predicts right; v2 is wrong on every "cat"
    model.add_events(events(60, prediction="dog", model_version="v1"), T0)
    early = model.add_labels([LabelIn(request_id=f"r{i}", label="cat") for i in range(60, 80)], T0)
    assert (early.matched, early.waiting) == (0, 20)
    model.add_events(events(20, start=60, prediction="dog", model_version="v2"), T0)  # joined now
    late = model.add_labels([LabelIn(request_id=f"r{i}", label="dog") for i in range(60)], T0)
    assert (late.matched, late.waiting) == (60, 0)
    accuracy = published(model)["accuracy"]
    assert accuracy.value == pytest.approx(60 / 80)
    where = accuracy.context["scope"]
    assert (
        "by version: v2 100.0% wrong of 20, v1 0.0% wrong of 60 — concentrated in version v2"
        in where
    )
    assert "by label: cat 100.0% wrong of 20, dog 0.0% wrong of 60" in where


def test_error_breakdown_names_the_segment_and_the_error_types() -> None:
    model = window()
    model.add_events(events(100, segment={"region": "us"}), T0)
    model.add_events(
        events(30, start=100, segment={"region": "eu"}, error=True, error_type="timeout"), T0
    )
    model.add_events(events(10, start=130, segment={"region": "eu"}, error=True), T0)
    model.add_events(events(60, start=140, segment={"region": "eu"}), T0)
    where = published(model)["error_rate"].context["scope"]
    assert where.splitlines() == [
        "by region: eu 40.0% failed of 100, us 0.0% failed of 100 — concentrated in region eu",
        "by error type: timeout 30 (75%), unspecified 10 (25%)",
    ]


def test_memory_stays_bounded() -> None:
    model = window(max_pending=1000, window="1m")
    for minute in range(10):
        at = T0 + timedelta(minutes=minute)
        batch = events(5000, start=minute * 5000, prediction=1, segment={"user": "x"}, time=at)
        model.add_events(batch, at)
        model.add_labels(
            [LabelIn(request_id=f"nope{minute}-{i}", label=1) for i in range(5000)], at
        )
    assert len(model.pending) == 1000 and len(model.early) == 1000
    assert len(model.buckets) <= 31
    many = [
        EventIn(request_id=f"u{i}", segment={"user": f"user-{i}"}) for i in range(1000)
    ]  # a high-cardinality segment
    model.add_events(many, T0 + timedelta(minutes=10))
    assert all(len(v) <= 100 for b in model.buckets.values() for v in b.by.values())


def test_labels_past_the_horizon_are_not_joined() -> None:
    model = window(label_horizon="1h")
    model.add_events(events(20, prediction=1), T0)
    later = model.add_labels([LabelIn(request_id="r1", label=1)], T0 + timedelta(hours=2))
    assert (later.matched, later.waiting) == (0, 1)


def test_the_latency_histogram_covers_1ms_to_5min() -> None:
    assert LATENCY_BOUNDS[0] == 0.001 and LATENCY_BOUNDS[-1] >= 300


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"events": []}', "$.events"),
        (b'{"events": [{"request_id": ""}]}', "$.events[0].request_id"),
        (b'{"events": [{"request_id": "a", "latency_ms": -3}]}', "$.events[0].latency_ms"),
        (b'{"events": [{"request_id": "a", "time": "2026-01-01T00:00:00"}]}', "$.events[0].time"),
        (b'{"events": [{"request_id": "a", "error": "yes"}]}', "$.events[0].error"),
        (b'{"events": [{"request_id": "a", "latncy_ms": 3}]}', "$.events[0]"),
        (b'{"events": [{"request_id": "a", "segment": {"region": 1}}]}', "$.events[0].segment"),
        (b"[]", "body"),
    ],
)
def test_malformed_events_name_the_field(body: bytes, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_events(body)
    assert caught.value.details["errors"][0]["field"].startswith(field)


def test_labels_need_a_request_id_and_a_label() -> None:
    with pytest.raises(InvalidInput, match="label"):
        parse_labels(b'{"labels": [{"request_id": "a"}]}')
    with pytest.raises(InvalidInput, match="malformed"):
        parse_labels(b"{nope")
    assert parse_labels(msgspec.json.encode({"labels": [{"request_id": "a", "label": [1, 2]}]}))
