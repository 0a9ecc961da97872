"""Triton: success + failure counters without ``_total``, latency as cumulative microseconds."""

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


def test_one_model_is_read_out_of_the_multi_model_scrape() -> None:
    totals = read_totals(_text("triton"), model="densenet_onnx")
    # success 5000 + 1000; failures v1 BACKEND 20 + REJECTED 5 + CANCELED 3, v2 BACKEND 50.
    assert totals.requests == 6078
    assert totals.errors == 75  # every failure but the 3 cancelled by clients
    assert totals.client_errors == 3
    assert totals.errors_observed
    assert totals.latency_count == 6000  # Triton's duration counter covers successes
    assert totals.by_version["1"].requests == 5028
    other = read_totals(_text("triton"), model="bert_tokenizer")
    assert (other.requests, other.errors, other.latency_sum_seconds) == (300, 0, 0.9)


def test_latency_microseconds_become_seconds() -> None:
    totals = read_totals(_text("triton"), model="densenet_onnx")
    # 60 000 000 µs + 15 000 000 µs.
    assert totals.latency_sum_seconds == 75.0
    assert totals.mean_latency_seconds == pytest.approx(0.0125)
    assert totals.by_version["1"].mean_latency_seconds == pytest.approx(0.012)
    assert totals.by_version["2"].mean_latency_seconds == pytest.approx(0.015)


def test_per_version_breakdown() -> None:
    versions = read_totals(_text("triton"), model="densenet_onnx").by_version
    assert sorted(versions) == ["1", "2"]
    v1, v2 = versions["1"], versions["2"]
    assert (v1.requests, v1.errors, v1.client_errors, v1.latency_count) == (5028, 25, 3, 5000)
    assert (v2.requests, v2.errors, v2.client_errors, v2.latency_sum_seconds) == (1050, 50, 0, 15)


def test_no_process_metrics_so_no_memory_or_cpu() -> None:
    totals = read_totals(_text("triton"), model="densenet_onnx")
    assert totals.memory_bytes is None
    assert totals.cpu_seconds is None


def test_a_restart_seen_through_counter_window() -> None:
    before = read_totals(_text("triton"), model="densenet_onnx")
    after = read_totals(_text("triton_after_restart"), model="densenet_onnx")
    # After: successes 40 + 10, failures BACKEND 2.
    window = CounterWindow(timedelta(minutes=5))
    window.add(T0, before.requests, before.errors)
    window.add(T0 + timedelta(seconds=15), after.requests, after.errors)
    assert window.rate() == Rate(52, 2)


def test_older_triton_without_a_reason_label_counts_every_failure() -> None:
    text = (
        "# HELP nv_inference_request_success Number of successful inference requests\n"
        "# TYPE nv_inference_request_success counter\n"
        'nv_inference_request_success{model="iris",version="1"} 395927.000000\n'
        "# TYPE nv_inference_request_failure counter\n"
        'nv_inference_request_failure{model="iris",version="1"} 73.000000\n'
        "# TYPE nv_inference_request_duration_us counter\n"
        'nv_inference_request_duration_us{model="iris",version="1"} 16233.000000\n'
    )
    totals = read_totals(text, model="iris")
    assert (totals.requests, totals.errors, totals.client_errors) == (396000, 73, 0)
    assert totals.latency_sum_seconds == pytest.approx(0.016233)


def test_missing_metrics_are_named() -> None:
    text = '# TYPE nv_inference_request_success counter\nnv_inference_request_success{model="m",version="1"} 3\n'
    with pytest.raises(ScrapeError, match="metric 'nv_inference_request_failure' not found"):
        read_totals(text, model="m")
    with pytest.raises(
        ScrapeError, match="'nv_inference_request_success' has no series for model 'x'"
    ):
        read_totals(_text("triton"), model="x")
