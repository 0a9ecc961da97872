"""``metric_query`` with ``promql`` against a real Prometheus 2.42 (constant expressions, so no
scrape has to happen first)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from firewatch.clock import FakeClock
from firewatch.config import FirewatchConfig
from firewatch.runbooks.schema import Outcome
from firewatch.runbooks.steps.base import IncidentView, StepContext
from firewatch.runbooks.steps.checks import metric_query
from firewatch.store.db import Database
from firewatch.store.writer import Writer
from support.prom import PrometheusHandle, running_prometheus
from support.servers import free_port


@pytest.fixture(scope="module")
def prometheus() -> Iterator[PrometheusHandle]:
    with running_prometheus([]) as handle:
        yield handle


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def make_context(
    tmp_path: Path, client: httpx.AsyncClient, *, config: dict[str, Any]
) -> StepContext:
    """A step's context for an incident about model iris under ``config``."""
    settings = FirewatchConfig.model_validate(config)
    db = Database(f"sqlite:///{tmp_path}/steps.db")  # not touched by metric_query
    opened = FakeClock().now()
    return StepContext(
        incident=IncidentView(1, "INC-2026-001", "iris", "v2", opened, "triggered"),
        model=settings.model("iris"),
        settings=settings.runbooks,
        db=db,
        writer=Writer(db),
        clock=FakeClock(),
        client=client,
        actor="firewatch:runbook",
        config=settings,
    )


def _config(url: str) -> dict[str, Any]:
    return {"prometheus": {"url": url}, "models": [{"name": "iris"}]}


async def test_passes_when_every_series_meets_the_expectation(
    tmp_path: Path, client: httpx.AsyncClient, prometheus: PrometheusHandle
) -> None:
    ctx = make_context(tmp_path, client, config=_config(prometheus.url))
    promql = 'label_replace(vector(0.02), "model", "${model}", "", "")'
    result = await metric_query(ctx, {"promql": promql, "below": 0.05})
    assert result.outcome is Outcome.PASSED, result.summary
    assert result.output["series"] == [{"labels": {"model": "iris"}, "value": 0.02}]
    assert result.output["promql"] == 'label_replace(vector(0.02), "model", "iris", "", "")'


async def test_fails_naming_the_series_that_does_not(
    tmp_path: Path, client: httpx.AsyncClient, prometheus: PrometheusHandle
) -> None:
    ctx = make_context(tmp_path, client, config=_config(prometheus.url))
    promql = 'label_replace(vector(0.3), "model", "${model}", "", "") or vector(0.01)'
    result = await metric_query(ctx, {"promql": promql, "below": 0.05})
    assert result.outcome is Outcome.FAILED
    assert "= 0.3 {model=iris}, expected < 0.05 (1 of 2 series)" in result.summary


async def test_empty_results_and_prometheus_errors_are_failures_that_say_so(
    tmp_path: Path, client: httpx.AsyncClient, prometheus: PrometheusHandle
) -> None:
    ctx = make_context(tmp_path, client, config=_config(prometheus.url))
    empty = await metric_query(ctx, {"promql": 'up{job="nope"}', "above": 0})
    assert empty.outcome is Outcome.FAILED
    assert "returned no series" in empty.summary
    broken = await metric_query(ctx, {"promql": "rate(up[", "above": 0})
    assert broken.outcome is Outcome.FAILED
    assert "Prometheus rejected the query" in broken.summary and "bad_data" in broken.summary


async def test_an_unreachable_prometheus_is_named(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    ctx = make_context(tmp_path, client, config=_config(url))
    result = await metric_query(ctx, {"promql": "vector(1)", "above": 0})
    assert result.outcome is Outcome.FAILED
    assert f"Prometheus at {url} could not be reached" in result.summary
