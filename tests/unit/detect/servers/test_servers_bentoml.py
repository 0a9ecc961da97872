"""BentoML ≥ 1.2: API endpoints only, 5xx as errors, 4xx as client errors, per service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from firewatch.detect.servers import BentoMLMapping, ScrapeError, parse_metrics, read_totals
from firewatch.detect.servers.bentoml import is_api
from firewatch.detect.trackers import CounterWindow, Rate

FIXTURES = Path(__file__).parents[3] / "fixtures" / "metrics"
T0 = datetime(2026, 1, 15, 14, 30, tzinfo=UTC)


def _text(name: str) -> str:
    return (FIXTURES / f"{name}.txt").read_text()


def test_one_service_is_read_without_probes_and_docs() -> None:
    totals = read_totals(_text("bentoml"), model="FraudAPI")
    # /predict 980 × 200 + 12 × 400 + 15 × 500 + 5 × 503; /explain 50 × 200 + 1 × 500.
    # Not counted: /livez 600, /readyz 600, /docs.json 2, / 1, /schema.json 1.
    assert totals.requests == 1063
    assert totals.errors == 21  # 15 + 5 + 1
    assert totals.client_errors == 12
    assert totals.latency_count == 1063
    assert totals.latency_sum_seconds == pytest.approx(126.67)  # 98 + 0.12 + 3 + 0.05 + 25 + 0.5


def test_a_dependency_service_is_its_own_model() -> None:
    totals = read_totals(_text("bentoml"), model="FraudModel")
    assert (totals.requests, totals.errors, totals.client_errors) == (1050, 20, 0)
    assert totals.latency_sum_seconds == pytest.approx(63.8)


def test_per_version_breakdown_and_no_process_metrics() -> None:
    totals = read_totals(_text("bentoml"), model="FraudAPI")
    assert list(totals.by_version) == ["wz4ymbqjrkvfqlg6"]
    assert totals.by_version["wz4ymbqjrkvfqlg6"].requests == 1063
    assert totals.memory_bytes is None
    assert totals.cpu_seconds is None


def test_endpoints_can_be_restricted() -> None:
    mapping = BentoMLMapping(endpoints=["/predict"])
    totals = mapping.totals(parse_metrics(_text("bentoml")), model="FraudAPI")
    assert (totals.requests, totals.errors, totals.client_errors) == (1012, 20, 12)


def test_series_without_a_runner_name_match_on_the_service_name() -> None:
    text = (
        "# TYPE bentoml_service_request_total counter\n"
        'bentoml_service_request_total{endpoint="/classify",http_response_code="200",'
        'service_name="iris_classifier",service_version="1"} 10.0\n'
        'bentoml_service_request_total{endpoint="/classify",http_response_code="500",'
        'service_name="iris_classifier",service_version="1"} 2.0\n'
    )
    totals = read_totals(text, model="iris_classifier")
    assert (totals.requests, totals.errors, totals.latency_count) == (12, 2, 0)


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/predict", True), ("/v1/classify", True), ("/livez", False), ("/readyz", False),
     ("/healthz", False), ("/metrics", False), ("/", False), ("/docs.json", False),
     ("/static_content/main.js", False)],
)  # fmt: skip
def test_api_endpoints(path: str, expected: bool) -> None:
    assert is_api(path) is expected


def test_a_restart_seen_through_counter_window() -> None:
    before = read_totals(_text("bentoml"), model="FraudAPI")
    after = read_totals(_text("bentoml_after_restart"), model="FraudAPI")
    window = CounterWindow(timedelta(minutes=5))
    window.add(T0, before.requests, before.errors)
    window.add(T0 + timedelta(seconds=15), after.requests, after.errors)
    assert window.rate() == Rate(42, 2)  # /predict 40 × 200 + 2 × 500; /livez not counted


def test_missing_metrics_are_named() -> None:
    with pytest.raises(
        ScrapeError, match="'bentoml_service_request_total' has no series for model 'x'"
    ):
        read_totals(_text("bentoml"), model="x")
    with pytest.raises(ScrapeError, match="metric 'bentoml_service_request_total' not found"):
        read_totals(_text("triton"), model="x", mapping="bentoml")
