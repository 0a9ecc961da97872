"""``signal_recovers``: after an action, only the traffic served since the step started counts,
against a real /metrics endpoint whose counters move with simulated traffic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from step_harness import Traffic, make_context, metrics_app

from firewatch.config import FirewatchConfig
from firewatch.runbooks.schema import Outcome
from firewatch.runbooks.steps import STEPS
from firewatch.runbooks.steps.signals import default_threshold, signal_recovers
from support.servers import serve_in_thread

FAST = {"interval": "100ms", "deadline": "2s"}


@pytest.fixture(scope="module")
def service() -> Iterator[tuple[list[Traffic], str]]:
    """One /metrics server for the module, serving the current test's counters."""
    current = [Traffic()]
    with serve_in_thread(metrics_app(lambda: current[0])) as url:
        yield current, f"{url}/metrics"


@pytest.fixture
def traffic(service: tuple[list[Traffic], str]) -> tuple[Traffic, dict[str, Any]]:
    """A service whose counters carry the incident: 10,000 requests, half of them failed."""
    current, url = service
    current[0] = Traffic(history=10_000)
    return current[0], {"models": [{"name": "iris", "metrics_url": url}]}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def test_the_step_is_registered() -> None:
    assert STEPS["signal_recovers"] is signal_recovers


async def test_passes_on_the_traffic_since_the_action_not_the_incidents_history(
    tmp_path: Path, client: httpx.AsyncClient, traffic: tuple[Traffic, dict[str, Any]]
) -> None:
    feed, config = traffic
    feed.set(rps=1000, error_share=0.01)
    ctx = make_context(tmp_path, client, config=config)
    result = await signal_recovers(ctx, {"signal": "error_rate", **FAST})
    assert result.outcome is Outcome.PASSED, result.summary
    assert result.output["below"] == 0.05  # HighErrorRate's threshold
    assert result.output["value"] == pytest.approx(0.01, abs=0.005)
    assert result.output["requests"] >= 20
    assert result.output["checks"] >= 2
    assert result.summary.startswith("recovered: error_rate 1.0% < 5.0% over")


async def test_fails_at_the_deadline_with_the_last_value(
    tmp_path: Path, client: httpx.AsyncClient, traffic: tuple[Traffic, dict[str, Any]]
) -> None:
    feed, config = traffic
    feed.set(rps=1000, error_share=0.4)
    ctx = make_context(tmp_path, client, config=config)
    result = await signal_recovers(ctx, {"signal": "error_rate", "interval": 0.1, "deadline": 0.4})
    assert result.outcome is Outcome.FAILED
    assert result.summary.startswith("not recovered: error_rate still 40.0% (threshold 5.0%)")
    assert "the action did not fix it" in result.summary
    assert result.output["value"] == pytest.approx(0.4, abs=0.02)
    assert result.output["waited_s"] < 1.5


async def test_too_little_traffic_is_not_called_a_recovery(
    tmp_path: Path, client: httpx.AsyncClient, traffic: tuple[Traffic, dict[str, Any]]
) -> None:
    feed, config = traffic
    feed.set(rps=10, error_share=0.0)
    ctx = make_context(tmp_path, client, config=config)
    result = await signal_recovers(
        ctx, {"signal": "error_rate", "interval": 0.1, "deadline": 0.3, "min_requests": 50}
    )
    assert result.outcome is Outcome.FAILED
    assert "not verified: only" in result.summary and "(need 50)" in result.summary


async def test_latency_recovers_below_the_slow_responses_threshold(
    tmp_path: Path, client: httpx.AsyncClient, traffic: tuple[Traffic, dict[str, Any]]
) -> None:
    feed, config = traffic  # the history's mean latency is 3 s
    feed.set(rps=1000, latency=0.2)
    ctx = make_context(tmp_path, client, config=config, labels={"alertname": "SlowResponses"})
    mean = await signal_recovers(ctx, FAST)  # the signal follows from the alert
    assert mean.outcome is Outcome.PASSED, mean.summary
    assert mean.output["signal"] == "latency_mean_s" and mean.output["below"] == 1.0
    p95 = await signal_recovers(ctx, {"signal": "latency_p95_s", "below": 0.3, **FAST})
    assert p95.outcome is Outcome.PASSED, p95.summary
    assert 0.1 < p95.output["value"] <= 0.25


async def test_waits_for_a_restarting_service_to_answer(
    tmp_path: Path, client: httpx.AsyncClient, traffic: tuple[Traffic, dict[str, Any]]
) -> None:
    feed, config = traffic
    feed.down = True
    feed.set(rps=1000, error_share=0.0)
    ctx = make_context(tmp_path, client, config=config)
    step = asyncio.create_task(signal_recovers(ctx, {"signal": "error_rate", **FAST}))
    await asyncio.sleep(0.3)
    assert not step.done()
    feed.down = False
    result = await step
    assert result.outcome is Outcome.PASSED, result.summary


async def test_a_counter_reset_after_the_start_counts_from_zero(
    tmp_path: Path, client: httpx.AsyncClient, traffic: tuple[Traffic, dict[str, Any]]
) -> None:
    """A restart mid-verification drops the counters below the start's: not negative traffic."""
    feed, config = traffic
    feed.set(rps=1000, error_share=0.0)
    ctx = make_context(tmp_path, client, config=config)
    step = asyncio.create_task(signal_recovers(ctx, {"signal": "error_rate", **FAST}))
    await asyncio.sleep(0.05)
    feed.restart()
    result = await step
    assert result.outcome is Outcome.PASSED, result.summary
    assert result.output["value"] == 0.0


async def test_a_service_that_never_answers_cannot_be_verified(
    tmp_path: Path, client: httpx.AsyncClient, traffic: tuple[Traffic, dict[str, Any]]
) -> None:
    feed, config = traffic
    feed.down = True
    ctx = make_context(tmp_path, client, config=config)
    result = await signal_recovers(ctx, {"signal": "error_rate", "interval": 0.1, "deadline": 0.4})
    assert result.outcome is Outcome.FAILED
    assert result.summary.startswith("cannot verify error_rate after")
    assert "answered HTTP 503" in result.summary


async def test_configured_rules_override_the_builtin_threshold(
    tmp_path: Path, client: httpx.AsyncClient, traffic: tuple[Traffic, dict[str, Any]]
) -> None:
    feed, config = traffic
    rule = {"name": "HighErrorRate", "signal": "error_rate", "threshold": 0.2}
    feed.set(rps=1000, error_share=0.1)
    ctx = make_context(tmp_path, client, config={**config, "rules": [rule]})
    result = await signal_recovers(ctx, {"signal": "error_rate", **FAST})
    assert result.outcome is Outcome.PASSED, result.summary
    assert result.output["below"] == 0.2


def test_default_threshold_prefers_the_incidents_own_alert() -> None:
    config = FirewatchConfig.model_validate(
        {"rules": [{"name": "TeamErrors", "signal": "error_rate", "threshold": 0.01}]}
    )
    assert default_threshold(config, signal="error_rate", model="iris", alertname=None) == 0.05
    found = default_threshold(config, signal="error_rate", model="iris", alertname="TeamErrors")
    assert found == 0.01
    assert default_threshold(config, signal="latency_p95_s", model="iris", alertname=None) is None


async def test_a_model_without_metrics_url_cannot_be_verified(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    ctx = make_context(tmp_path, client, config={"models": [{"name": "iris"}]})
    result = await signal_recovers(ctx, {"signal": "error_rate"})
    assert result.outcome is Outcome.FAILED
    assert result.summary == "model iris has no metrics_url: cannot verify error_rate"


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({}, "parameter 'signal' must be one of error_rate, latency_mean_s, latency_p95_s"),
        ({"signal": "latency_p95_s"}, "parameter 'below' is needed"),
        ({"signal": "error_rate", "below": "low"}, "parameter 'below' must be a number"),
        ({"signal": "error_rate", "consecutive": 0}, "parameter 'consecutive'"),
        ({"signal": "error_rate", "deadline": "later"}, "parameter 'deadline'"),
    ],
)
async def test_bad_parameters_are_named(
    tmp_path: Path,
    client: httpx.AsyncClient,
    params: dict[str, Any],
    named: str,
) -> None:
    config = {"models": [{"name": "iris", "metrics_url": "http://127.0.0.1:9/metrics"}]}
    result = await signal_recovers(make_context(tmp_path, client, config=config), params)
    assert result.outcome is Outcome.FAILED
    assert named in result.summary
