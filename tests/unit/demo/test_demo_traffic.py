"""The traffic generator sends test-split rows at the asked rate and survives a down service."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from firewatch.demo.app import create_demo_app
from firewatch.demo.traffic import TrafficOptions, TrafficSummary, run_traffic, run_traffic_async
from support.demo_registry import FakeRegistry


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _always(status: int) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": {"code": "x", "message": "x", "details": {}}})

    return httpx.MockTransport(handler)


async def test_sends_about_rps_requests_to_the_demo_service() -> None:
    registry = FakeRegistry()
    registry.add_version("v1")
    registry.set_alias("production", "v1")
    settings = registry.settings()
    app = create_demo_app(settings)
    async with app.router.lifespan_context(app):
        summary = await run_traffic_async(
            "http://demo-model/", rps=40, duration=0.5, transport=httpx.ASGITransport(app=app)
        )
    assert settings.http_client is not None
    await settings.http_client.aclose()
    assert 14 <= summary.requests <= 24
    assert summary.failures == 0
    assert summary.successes == summary.requests
    assert summary.accuracy is not None
    assert summary.accuracy > 0.85
    assert summary.mean_latency_ms is not None


def test_a_service_that_is_down_is_counted_not_raised() -> None:
    url = f"http://127.0.0.1:{_unused_port()}"
    summary = run_traffic(url, rps=20, duration=0.3, options=TrafficOptions(timeout=0.5))
    assert summary.requests >= 3
    assert summary.failures == summary.requests
    assert summary.failures_by_reason == {"connection_error": summary.requests}
    assert summary.accuracy is None
    assert "failed (connection_error:" in summary.format()


def test_http_errors_are_counted_by_status() -> None:
    summary = run_traffic("http://demo", rps=50, duration=0.2, transport=_always(503))
    assert summary.successes == 0
    assert set(summary.failures_by_reason) == {"http_503"}
    assert summary.mean_latency_ms is not None


def test_answers_without_predictions_are_invalid_responses() -> None:
    summary = run_traffic("http://demo", rps=50, duration=0.1, transport=_always(200))
    assert set(summary.failures_by_reason) == {"invalid_response"}


def test_stop_event_ends_the_run() -> None:
    stop = threading.Event()
    timer = threading.Timer(0.2, stop.set)
    timer.start()
    started = time.monotonic()
    summary = run_traffic("http://demo", rps=0.5, stop_event=stop, transport=_always(200))
    timer.join()
    assert time.monotonic() - started < 1.0
    assert summary.requests == 1


def test_reports_progress_while_running() -> None:
    reports: list[TrafficSummary] = []
    options = TrafficOptions(on_report=reports.append, report_interval=0.1)
    run_traffic("http://demo", rps=50, duration=0.35, options=options, transport=_always(500))
    assert len(reports) >= 2
    assert reports[-1].requests >= reports[0].requests


@pytest.mark.parametrize(
    ("url", "rps", "duration", "problem"),
    [
        ("demo:8080", 1.0, 1.0, "url must be an http"),
        ("http://[::1", 1.0, 1.0, "url must be an http"),
        ("http://demo", 0.0, 1.0, "rps must be above 0"),
        ("http://demo", 5000.0, 1.0, "rps must be above 0"),
        ("http://demo", 1.0, -1.0, "duration cannot be negative"),
    ],
)
def test_bad_arguments_are_refused(url: str, rps: float, duration: float, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        run_traffic(url, rps, duration)


def test_summary_reads_well() -> None:
    summary = TrafficSummary(
        requests=10,
        successes=8,
        failures_by_reason={"http_500": 2},
        mean_latency_ms=12.34,
        max_latency_ms=40.0,
        elapsed_seconds=5.0,
        predicted=8,
        correct=6,
    )
    assert summary.format() == (
        "10 requests in 5.0s (2.0/s): 8 ok, 2 failed (http_500: 2); "
        "latency mean 12.3 ms, max 40.0 ms; accuracy 0.750"
    )
