"""Firewatch's own convention: the demo model's counters and histogram, and custom counter pairs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from firewatch.demo.metrics import DemoMetrics
from firewatch.detect.servers import CounterPairMapping, ScrapeError, parse_metrics, read_totals
from firewatch.detect.trackers import CounterWindow, Rate

FIXTURES = Path(__file__).parents[3] / "fixtures" / "metrics"
T0 = datetime(2026, 1, 15, 14, 30, tzinfo=UTC)


def _text(name: str) -> str:
    return (FIXTURES / f"{name}.txt").read_text()


def test_one_model_is_read_out_of_the_multi_model_scrape() -> None:
    totals = read_totals(_text("firewatch"), model="fraud-detector")
    # v3 1200 requests / 6 errors / 1200 × 0.046875 s = 56.25 s; v4 800 / 40 / 800 × 0.125 = 100 s.
    assert totals.requests == 2000
    assert totals.errors == 46
    assert totals.errors_observed
    assert totals.latency_sum_seconds == 156.25
    assert totals.latency_count == 2000
    assert totals.mean_latency_seconds == pytest.approx(0.078125)
    assert totals.client_errors is None


def test_per_version_breakdown() -> None:
    totals = read_totals(_text("firewatch"), model="fraud-detector")
    assert sorted(totals.by_version) == ["v3", "v4"]
    v3, v4 = totals.by_version["v3"], totals.by_version["v4"]
    assert (v3.requests, v3.errors, v3.latency_sum_seconds, v3.latency_count) == (
        1200,
        6,
        56.25,
        1200,
    )
    assert (v4.requests, v4.errors, v4.latency_sum_seconds, v4.latency_count) == (800, 40, 100, 800)
    assert v4.by_version == {}
    other = read_totals(_text("firewatch"), model="churn-model")
    assert (other.requests, other.errors, list(other.by_version)) == (450, 2, ["v7"])


def test_process_memory_and_cpu() -> None:
    totals = read_totals(_text("firewatch"), model="churn-model")
    assert totals.memory_bytes == 201326592
    assert totals.cpu_seconds == 512.37
    assert totals.by_version["v7"].memory_bytes is None


def test_a_restart_seen_through_counter_window_counts_only_the_new_requests() -> None:
    before = read_totals(_text("firewatch"), model="fraud-detector")
    after = read_totals(_text("firewatch_after_restart"), model="fraud-detector")
    # After the restart only v4 is served: 30 requests, 3 errors (and v3's series are gone).
    assert (after.requests, after.errors) == (30, 3)
    window = CounterWindow(timedelta(minutes=5))
    window.add(T0, before.requests, before.errors)
    window.add(T0 + timedelta(seconds=15), after.requests, after.errors)
    assert window.rate() == Rate(30, 3)


def test_the_mapping_reads_what_the_demo_really_renders() -> None:
    demo = DemoMetrics()
    demo.set_served("credit", "v2")
    for status in (200, 200, 500, 200):
        demo.observe_request("credit", "v2", status, 0.25)
    demo.observe_request("credit", "v1", 503, 0.5)
    totals = read_totals(demo.render().decode(), model="credit")
    assert (totals.requests, totals.errors, totals.latency_sum_seconds) == (5, 2, 1.5)
    assert totals.by_version["v1"].errors == 1
    assert totals.memory_bytes is not None


def test_missing_metrics_and_unknown_models_are_named() -> None:
    with pytest.raises(
        ScrapeError, match="metric 'model_requests_total' has no series for model 'x'"
    ):
        read_totals(_text("firewatch"), model="x")
    with pytest.raises(ScrapeError, match="models: churn-model, fraud-detector"):
        read_totals(_text("firewatch"), model="x")
    text = "# TYPE model_request_errors_total counter\nmodel_request_errors_total 1\n"
    with pytest.raises(ScrapeError, match="metric 'model_requests_total' not found"):
        read_totals(text, model="m", mapping="firewatch")


def test_a_model_without_errors_yet_has_a_measured_zero() -> None:
    text = (
        "# TYPE model_requests_total counter\n"
        'model_requests_total{model="m",version="1"} 10\n'
        'model_requests_total{model="n",version="1"} 10\n'
        "# TYPE model_request_errors_total counter\n"
        'model_request_errors_total{model="n",version="1"} 2\n'
    )
    totals = read_totals(text, model="m")
    assert (totals.requests, totals.errors, totals.errors_observed) == (10, 0, True)
    assert totals.latency_sum_seconds is None


def test_custom_counter_pairs_cover_counters_typed_without_total() -> None:
    mapping = CounterPairMapping(
        "custom", requests="inference_requests", errors="inference_failures", duration=None
    )
    text = (
        "# TYPE inference_requests counter\ninference_requests 90\n"
        "# TYPE inference_failures counter\ninference_failures 9\n"
    )
    families = parse_metrics(text)
    assert families[0].samples[0].name == "inference_requests_total"
    totals = mapping.totals(families, model="anything")
    assert (totals.requests, totals.errors, totals.by_version) == (90, 9, {})
    absent = mapping.totals(parse_metrics("inference_requests 5\n"), model="m")
    assert (absent.errors, absent.errors_observed) == (0, False)
    assert absent.caveats == ("no inference_failures counter: errors not measured",)
