"""KServe: requests and latency from ``request_predict_seconds``; errors only via the queue-proxy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from firewatch.detect.servers import ScrapeError, read_totals
from firewatch.detect.trackers import CounterWindow, Rate

FIXTURES = Path(__file__).parents[3] / "fixtures" / "metrics"
T0 = datetime(2026, 1, 15, 14, 30, tzinfo=UTC)


def _text(name: str) -> str:
    return (FIXTURES / f"{name}.txt").read_text()


def test_one_model_of_a_multi_model_server_with_errors_not_measured() -> None:
    totals = read_totals(_text("kserve"), model="sklearn-iris")
    assert totals.requests == 300
    assert totals.latency_sum_seconds == 4.5
    assert totals.latency_count == 300
    assert totals.mean_latency_seconds == pytest.approx(0.015)
    # KServe's model server has no failure counter: 0 errors, explicitly not a measured 0%.
    assert totals.errors == 0
    assert not totals.errors_observed
    assert totals.client_errors is None
    assert totals.by_version == {}
    assert any("no failure counter" in caveat for caveat in totals.caveats)
    other = read_totals(_text("kserve"), model="xgb-churn")
    assert (other.requests, other.latency_sum_seconds) == (120, 3.0)


def test_process_memory_and_cpu() -> None:
    totals = read_totals(_text("kserve"), model="xgb-churn")
    assert totals.memory_bytes == 314572800
    assert totals.cpu_seconds == 845.2


def test_the_queue_proxy_gives_errors_for_a_single_model_pod() -> None:
    totals = read_totals(_text("kserve_qpext"), model="sklearn-iris")
    # revision_app_request_count: 290 × 200 + 4 × 400 + 6 × 500.
    assert totals.requests == 300
    assert totals.errors == 6
    assert totals.client_errors == 4
    assert totals.errors_observed
    # Latency stays the predict step's: 296 predictions (the 4 bad requests never reached it).
    assert (totals.latency_sum_seconds, totals.latency_count) == (4.44, 296)
    assert any("queue-proxy" in caveat for caveat in totals.caveats)


def test_the_queue_proxy_is_not_attributed_when_the_pod_serves_several_models() -> None:
    proxy = _text("kserve_qpext").split("# HELP revision_request_count", 1)[1]
    text = _text("kserve") + "# HELP revision_request_count" + proxy
    totals = read_totals(text, model="sklearn-iris")
    assert (totals.requests, totals.errors, totals.errors_observed) == (300, 0, False)
    assert any("serves 2 models" in caveat for caveat in totals.caveats)


def test_a_restart_seen_through_counter_window() -> None:
    before = read_totals(_text("kserve"), model="sklearn-iris")
    after = read_totals(_text("kserve_after_restart"), model="sklearn-iris")
    window = CounterWindow(timedelta(minutes=5))
    window.add(T0, before.requests, before.errors)
    window.add(T0 + timedelta(seconds=15), after.requests, after.errors)
    assert window.rate() == Rate(12, 0)


def test_missing_metrics_are_named() -> None:
    with pytest.raises(ScrapeError, match="metric 'request_predict_seconds' not found"):
        read_totals("# TYPE python_info gauge\npython_info 1\n", model="m", mapping="kserve")
    with pytest.raises(ScrapeError, match=r"no series for model 'iris'.*sklearn-iris, xgb-churn"):
        read_totals(_text("kserve"), model="iris")
