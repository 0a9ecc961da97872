"""Seldon Core 2's agent (one counter with a ``code`` label) and MLServer's own counters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from firewatch.detect.servers import ScrapeError, read_totals
from firewatch.detect.servers.seldon import code_class
from firewatch.detect.trackers import CounterWindow, Rate

FIXTURES = Path(__file__).parents[3] / "fixtures" / "metrics"
T0 = datetime(2026, 1, 15, 14, 30, tzinfo=UTC)


def _text(name: str) -> str:
    return (FIXTURES / f"{name}.txt").read_text()


def test_one_model_is_read_out_of_the_agent_scrape() -> None:
    totals = read_totals(_text("seldon"), model="iris")
    # iris_1: REST 900 × 200, 5 × 400, 10 × 500; gRPC 300 OK, 1 InvalidArgument, 2 Internal.
    # iris_2: REST 100 × 200, 4 × 503.
    assert totals.requests == 1322
    assert totals.errors == 16  # 10 + 2 + 4
    assert totals.client_errors == 6  # 5 + 1
    assert totals.latency_count == 1322
    assert totals.latency_sum_seconds == pytest.approx(62.16)
    other = read_totals(_text("seldon"), model="income")
    assert (other.requests, other.errors, other.latency_sum_seconds) == (250, 0, 20)


def test_versions_come_from_the_internal_model_name() -> None:
    versions = read_totals(_text("seldon"), model="iris").by_version
    assert sorted(versions) == ["1", "2"]
    assert (versions["1"].requests, versions["1"].errors, versions["1"].client_errors) == (
        1218,
        12,
        6,
    )
    assert (versions["2"].requests, versions["2"].errors) == (104, 4)
    assert versions["2"].latency_sum_seconds == pytest.approx(6.4)


def test_the_agents_own_process_metrics_are_not_the_models() -> None:
    totals = read_totals(_text("seldon"), model="iris")
    assert totals.memory_bytes is None
    assert totals.cpu_seconds is None
    assert any("agent" in caveat for caveat in totals.caveats)


def test_a_restart_seen_through_counter_window() -> None:
    before = read_totals(_text("seldon"), model="iris")
    after = read_totals(_text("seldon_after_restart"), model="iris")
    window = CounterWindow(timedelta(minutes=5))
    window.add(T0, before.requests, before.errors)
    window.add(T0 + timedelta(seconds=15), after.requests, after.errors)
    assert window.rate() == Rate(21, 1)  # iris_2: 20 × 200, 1 × 500


def test_namespace_prefixed_names_are_accepted() -> None:
    text = _text("seldon").replace("seldon_model_infer", "seldon_mesh_seldon_model_infer")
    totals = read_totals(text, model="iris")
    assert (totals.requests, totals.errors) == (1322, 16)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("200", 2), ("OK", 2), ("400", 4), ("404", 4), ("InvalidArgument", 4), ("NotFound", 4),
        ("CANCELLED", 4), ("RESOURCE_EXHAUSTED", 4), ("500", 5), ("503", 5), ("Internal", 5),
        ("Unavailable", 5), ("DEADLINE_EXCEEDED", 5), ("Unknown", 5), ("", 5), ("weird", 5),
    ],
)  # fmt: skip
def test_code_classes(code: str, expected: int) -> None:
    assert code_class(code) == expected


def test_mlserver_own_counters() -> None:
    totals = read_totals(_text("mlserver"), model="iris")
    # v1.2.0: 500 successes + 5 failures; v1.3.0: 100 + 20; summary sums 10.1 s + 2.4 s.
    assert (totals.requests, totals.errors, totals.errors_observed) == (625, 25, True)
    assert totals.client_errors is None
    assert totals.latency_sum_seconds == pytest.approx(12.5)
    assert totals.latency_count == 625
    assert sorted(totals.by_version) == ["v1.2.0", "v1.3.0"]
    assert (totals.by_version["v1.3.0"].requests, totals.by_version["v1.3.0"].errors) == (120, 20)
    assert totals.memory_bytes is None  # multi-process mode: no process metrics


def test_mlserver_before_its_first_failure_has_a_measured_zero() -> None:
    totals = read_totals(_text("mlserver"), model="income-classifier")
    assert (totals.requests, totals.errors, totals.errors_observed) == (80, 0, True)


def test_missing_metrics_are_named() -> None:
    with pytest.raises(
        ScrapeError, match="metric 'seldon_model_infer_total' has no series for model 'x'"
    ):
        read_totals(_text("seldon"), model="x")
    with pytest.raises(
        ScrapeError, match="'model_infer_request_success' has no series for model 'x'"
    ):
        read_totals(_text("mlserver"), model="x")
    with pytest.raises(ScrapeError, match="metric 'seldon_model_infer_total' not found"):
        read_totals("# TYPE go_goroutines gauge\ngo_goroutines 9\n", model="x", mapping="seldon")
