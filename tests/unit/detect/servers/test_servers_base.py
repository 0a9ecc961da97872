"""The shared entry points: parsing, recognising each server, status classes, sanitised values."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from prometheus_client.samples import Sample

from firewatch.detect.servers import (
    MAPPINGS,
    ScrapeError,
    ServerTotals,
    detect_mapping,
    parse_metrics,
    read_totals,
)
from firewatch.detect.servers.base import counter, status_class, value

FIXTURES = Path(__file__).parents[3] / "fixtures" / "metrics"


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("firewatch", "firewatch"),
        ("firewatch_after_restart", "firewatch"),
        ("kserve", "kserve"),
        ("kserve_qpext", "kserve"),
        ("triton", "triton"),
        ("triton_after_restart", "triton"),
        ("seldon", "seldon"),
        ("mlserver", "seldon"),
        ("bentoml", "bentoml"),
        ("torchserve", "torchserve"),
        ("torchserve_after_restart", "torchserve"),
    ],
)
def test_detect_mapping_recognises_each_server(fixture: str, expected: str) -> None:
    families = parse_metrics((FIXTURES / f"{fixture}.txt").read_text())
    mapping = detect_mapping(families)
    assert mapping is not None
    assert mapping.name == expected


def test_unrelated_metrics_are_recognised_as_nothing() -> None:
    text = (
        "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n"
        'http_requests_total{path="/"} 12\n'
        "# HELP process_resident_memory_bytes RSS.\n# TYPE process_resident_memory_bytes gauge\n"
        "process_resident_memory_bytes 1e+08\n"
    )
    assert detect_mapping(parse_metrics(text)) is None
    assert detect_mapping([]) is None
    with pytest.raises(ScrapeError, match="no known model-server metrics"):
        read_totals(text, model="m")


def test_a_kserve_server_before_its_first_request_is_still_recognised() -> None:
    text = (
        "# HELP request_predict_seconds predict request latency\n"
        "# TYPE request_predict_seconds histogram\n"
    )
    mapping = detect_mapping(parse_metrics(text))
    assert mapping is not None
    assert mapping.name == "kserve"
    with pytest.raises(ScrapeError, match="'request_predict_seconds' has no series for model 'm'"):
        read_totals(text, model="m")


@pytest.mark.parametrize(
    "text", ["<html><body>502 Bad Gateway</body></html>", "hello world", "a{b=c} 1", "{{{"]
)
def test_invalid_text_is_a_scrape_error(text: str) -> None:
    with pytest.raises(ScrapeError, match="not Prometheus text format"):
        parse_metrics(text)
    with pytest.raises(ScrapeError, match="not Prometheus text format"):
        read_totals(text, model="m", mapping="triton")


def test_an_explicit_mapping_is_used_without_detection() -> None:
    text = (FIXTURES / "triton.txt").read_text()
    assert read_totals(text, model="bert_tokenizer", mapping="triton").requests == 300
    with pytest.raises(ScrapeError, match="metric 'model_requests_total' not found"):
        read_totals(text, model="bert_tokenizer", mapping="firewatch")


def test_an_unknown_mapping_name_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match=r"unknown metrics mapping 'tfserving'.*auto, firewatch"):
        read_totals("", model="m", mapping="tfserving")


def test_the_builtin_mappings_by_name() -> None:
    assert list(MAPPINGS) == ["firewatch", "kserve", "triton", "seldon", "bentoml", "torchserve"]
    assert all(name == mapping.name for name, mapping in MAPPINGS.items())


def test_counters_go_by_both_names_because_the_parser_appends_total() -> None:
    (family,) = parse_metrics(
        "# TYPE nv_inference_request_success counter\nnv_inference_request_success 3\n"
    )
    assert family.name == "nv_inference_request_success"
    assert family.samples[0].name == "nv_inference_request_success_total"
    assert counter("nv_inference_request_success") == {
        "nv_inference_request_success",
        "nv_inference_request_success_total",
    }
    assert counter("ts_inference_requests_total") == counter("ts_inference_requests")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(5.0, 5.0), (0.0, 0.0), (-3.0, 0.0), (math.nan, 0.0), (math.inf, 0.0), (-math.inf, 0.0)],
)
def test_sample_values_are_never_negative_or_nan(raw: float, expected: float) -> None:
    assert value(Sample("x_total", {}, raw)) == expected


def test_nan_counters_in_a_scrape_count_as_zero() -> None:
    text = (
        "# TYPE model_requests_total counter\n"
        'model_requests_total{model="m",version="1"} NaN\n'
        'model_requests_total{model="m",version="2"} 4\n'
        "# TYPE model_request_errors_total counter\n"
        'model_request_errors_total{model="m",version="2"} -1\n'
    )
    totals = read_totals(text, model="m")
    assert (totals.requests, totals.errors) == (4.0, 0.0)
    assert totals.by_version["1"].requests == 0.0


@pytest.mark.parametrize(
    ("code", "expected"),
    [("200", 2), ("204", 2), ("404", 4), ("4xx", 4), ("500", 5), ("503", 5), ("5xx", 5)],
)
def test_http_status_classes(code: str, expected: int) -> None:
    assert status_class(code) == expected


@pytest.mark.parametrize("code", ["OK", "", "999", "50", "abc"])
def test_non_http_codes_have_no_http_class(code: str) -> None:
    assert status_class(code) is None


def test_mean_latency() -> None:
    assert ServerTotals(10, 1, 2.5, 10).mean_latency_seconds == 0.25
    assert ServerTotals(10, 1, 0.0, 0.0).mean_latency_seconds is None
    assert ServerTotals(10, 1).mean_latency_seconds is None
