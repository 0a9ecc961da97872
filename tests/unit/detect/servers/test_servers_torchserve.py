"""TorchServe: per-model counters, host-level status counters, µs latency, naming quirks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from firewatch.detect.servers import ScrapeError, parse_metrics, read_totals
from firewatch.detect.trackers import CounterWindow, Rate

FIXTURES = Path(__file__).parents[3] / "fixtures" / "metrics"
T0 = datetime(2026, 1, 15, 14, 30, tzinfo=UTC)


def _text(name: str) -> str:
    return (FIXTURES / f"{name}.txt").read_text()


def test_one_model_of_a_multi_model_server_with_errors_not_attributable() -> None:
    totals = read_totals(_text("torchserve"), model="resnet18")
    assert totals.requests == 1000  # 700 (1.0) + 300 (2.0)
    # Requests5XX is host-wide and two models share it: not this model's error count.
    assert (totals.errors, totals.errors_observed, totals.client_errors) == (0, False, None)
    assert any("2 models share" in caveat for caveat in totals.caveats)


def test_latency_microseconds_become_seconds() -> None:
    totals = read_totals(_text("torchserve"), model="resnet18")
    assert totals.latency_sum_seconds == 53.0  # 35 000 000 µs + 18 000 000 µs
    assert totals.latency_count == 1000
    assert totals.mean_latency_seconds == pytest.approx(0.053)
    bert = read_totals(_text("torchserve"), model="bert_qa")
    assert bert.mean_latency_seconds == pytest.approx(0.2)  # 30 s over 150 requests


def test_per_version_breakdown() -> None:
    versions = read_totals(_text("torchserve"), model="resnet18").by_version
    assert sorted(versions) == ["1.0", "2.0"]
    assert (versions["1.0"].requests, versions["1.0"].latency_sum_seconds) == (700, 35.0)
    assert (versions["2.0"].requests, versions["2.0"].latency_sum_seconds) == (300, 18.0)
    assert not versions["1.0"].errors_observed
    assert list(read_totals(_text("torchserve"), model="bert_qa").by_version) == ["default"]


def test_a_single_model_server_gets_the_host_level_errors() -> None:
    totals = read_totals(_text("torchserve_single"), model="resnet18")
    assert (totals.requests, totals.errors, totals.client_errors) == (500, 10, 3)
    assert totals.errors_observed
    # The host-level counters cannot be split by version.
    assert totals.by_version["1.0"].errors == 0
    assert not totals.by_version["1.0"].errors_observed


def test_no_process_metrics_so_no_memory_or_cpu() -> None:
    totals = read_totals(_text("torchserve"), model="resnet18")
    assert (totals.memory_bytes, totals.cpu_seconds) == (None, None)


def test_the_parser_reads_counters_typed_without_total_as_total() -> None:
    names = {s.name for f in parse_metrics(_text("torchserve")) for s in f.samples}
    assert {"Requests5XX_total", "ts_inference_latency_microseconds_total"} <= names
    assert "ts_inference_requests_total" in names
    # An untyped scrape keeps the raw names; both spellings are read.
    raw = "\n".join(
        line for line in _text("torchserve_single").splitlines() if not line.startswith("#")
    )
    totals = read_totals(raw, model="resnet18", mapping="torchserve")
    assert (totals.requests, totals.errors, totals.latency_sum_seconds) == (500, 10, 25.0)


def test_legacy_labels_with_uuid() -> None:
    text = (
        "# TYPE ts_inference_requests_total counter\n"
        'ts_inference_requests_total{uuid="e2e3",model_name="noop",model_version="default",} 7.0\n'
        "# TYPE ts_inference_latency_microseconds counter\n"
        'ts_inference_latency_microseconds{uuid="e2e3",model_name="noop",model_version="default",} 3500.0\n'
    )
    totals = read_totals(text, model="noop")
    assert (totals.requests, totals.latency_sum_seconds, totals.errors_observed) == (
        7,
        0.0035,
        False,
    )


def test_a_restart_seen_through_counter_window() -> None:
    before = read_totals(_text("torchserve"), model="resnet18")
    after = read_totals(_text("torchserve_after_restart"), model="resnet18")
    window = CounterWindow(timedelta(minutes=5))
    window.add(T0, before.requests, before.errors)
    window.add(T0 + timedelta(seconds=15), after.requests, after.errors)
    assert window.rate() == Rate(25, 0)  # only 2.0 reloaded: 25 requests


def test_missing_metrics_are_named() -> None:
    with pytest.raises(
        ScrapeError, match="metric 'ts_inference_requests_total' has no series for model 'x'"
    ):
        read_totals(_text("torchserve"), model="x")
    with pytest.raises(ScrapeError, match="metric 'ts_inference_requests_total' not found"):
        read_totals("# TYPE Requests2XX counter\n", model="x", mapping="torchserve")
