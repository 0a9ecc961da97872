"""The generic check steps against real local servers: http_check, metric_query (scraped
signals), run_command (real subprocesses, killed with their process group on timeout)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from step_harness import Traffic, make_context, metrics_app

from firewatch.registry import regions
from firewatch.runbooks.schema import Outcome
from firewatch.runbooks.steps import STEPS
from firewatch.runbooks.steps.checks import http_check, metric_query, run_command
from firewatch.store.db import Database
from support.servers import free_port, serve_in_thread


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def _service() -> Starlette:
    async def health(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": "v2"})

    async def broken(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("database connection refused", status_code=503)

    async def slow(_request: Request) -> PlainTextResponse:
        await asyncio.sleep(1.0)
        return PlainTextResponse("late")

    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"method": request.method, "got": await request.json()})

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/broken", broken),
            Route("/slow", slow),
            Route("/echo", echo, methods=["POST"]),
        ]
    )


@pytest.fixture(scope="module")
def service_url() -> Iterator[str]:
    with serve_in_thread(_service()) as url:
        yield url


def test_the_steps_are_registered() -> None:
    for name in ("http_check", "metric_query", "run_command"):
        assert name in STEPS


# --- http_check ---------------------------------------------------------------------------------


async def test_http_check_appends_path_to_the_model_url_and_checks_the_json(
    tmp_path: Path, client: httpx.AsyncClient, service_url: str
) -> None:
    ctx = make_context(tmp_path, client, config={"models": [{"name": "iris", "url": service_url}]})
    result = await http_check(ctx, {"path": "health", "expect_json": {"status": "ok"}})
    assert result.outcome is Outcome.PASSED, result.summary
    assert result.output["status"] == 200
    assert result.output["url"] == f"{service_url}/health"
    assert '"version":"v2"' in result.output["body"]
    assert result.output["latency_ms"] > 0

    wrong = await http_check(ctx, {"path": "/health", "expect_json": {"version": "v1"}})
    assert wrong.outcome is Outcome.FAILED
    assert "JSON version is 'v2', expected 'v1'" in wrong.summary


async def test_http_check_path_follows_the_active_region_after_a_failover(
    tmp_path: Path, client: httpx.AsyncClient, service_url: str, sqlite_db: Database
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    endpoints = [{"region": "eu", "url": down}, {"region": "us", "url": service_url}]
    config = {"models": [{"name": "iris", "endpoints": endpoints}]}
    ctx = dataclasses.replace(make_context(tmp_path, client, config=config), db=sqlite_db)
    assert (await http_check(ctx, {"path": "health"})).output["url"] == f"{down}/health"
    with sqlite_db.write_session() as s:
        regions.switch_region(
            s, model="iris", to="us", regions=["eu", "us"], now=ctx.clock.now(), actor="t"
        )
    result = await http_check(ctx, {"path": "health"})
    assert result.outcome is Outcome.PASSED, result.summary
    assert result.output["url"] == f"{service_url}/health"


async def test_http_check_fails_on_an_unexpected_status_keeping_the_body(
    tmp_path: Path, client: httpx.AsyncClient, service_url: str
) -> None:
    ctx = make_context(tmp_path, client)
    result = await http_check(ctx, {"url": f"{service_url}/broken"})
    assert result.outcome is Outcome.FAILED
    assert "status 503, expected 2xx" in result.summary
    assert result.output["body"] == "database connection refused"

    confirmed = await http_check(
        ctx,
        {"url": f"{service_url}/broken", "expect_status": [500, 503], "expect_body": "database"},
    )
    assert confirmed.outcome is Outcome.PASSED, confirmed.summary


async def test_http_check_posts_a_json_body(
    tmp_path: Path, client: httpx.AsyncClient, service_url: str
) -> None:
    ctx = make_context(tmp_path, client)
    result = await http_check(
        ctx,
        {
            "url": f"{service_url}/echo",
            "method": "post",
            "json": {"x": 1},
            "expect_json": {"got": {"x": 1}},
        },
    )
    assert result.outcome is Outcome.PASSED, result.summary


async def test_http_check_times_out_and_reports_unreachable_services(
    tmp_path: Path, client: httpx.AsyncClient, service_url: str
) -> None:
    ctx = make_context(tmp_path, client)
    slow = await http_check(ctx, {"url": f"{service_url}/slow", "timeout": "200ms"})
    assert slow.outcome is Outcome.FAILED
    assert "no answer within 0.2s" in slow.summary

    down = await http_check(ctx, {"url": f"http://127.0.0.1:{free_port()}/health"})
    assert down.outcome is Outcome.FAILED
    assert "could not connect" in down.summary and "is the service up?" in down.summary


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({}, "'url'"),
        ({"url": "localhost/health"}, "'url' must be an absolute"),
        ({"path": "/health"}, "'path' needs the model's url"),
        ({"url": "http://x/", "expect_status": "200"}, "'expect_status'"),
        ({"url": "http://x/", "expect_json": ["ok"]}, "'expect_json'"),
        ({"url": "http://x/", "timeout": "soon"}, "'timeout'"),
    ],
)
async def test_http_check_names_a_bad_parameter(
    tmp_path: Path, client: httpx.AsyncClient, params: dict[str, object], named: str
) -> None:
    result = await http_check(make_context(tmp_path, client), params)
    assert result.outcome is Outcome.FAILED
    assert named in result.summary


# --- metric_query: signals from fresh scrapes -------------------------------------------------


@pytest.fixture(scope="module")
def metrics_service() -> Iterator[tuple[list[Traffic], str]]:
    current = [Traffic()]
    with serve_in_thread(metrics_app(lambda: current[0])) as url:
        yield current, f"{url}/metrics"


@pytest.fixture
def traffic(
    metrics_service: tuple[list[Traffic], str],
) -> tuple[Traffic, dict[str, object]]:
    """Fresh counters whose history is 10,000 requests, half of them failed."""
    current, url = metrics_service
    current[0] = Traffic(history=10_000)
    model = {"name": "iris", "metrics_url": url, "limits": {"memory_bytes": 1_000_000_000}}
    return current[0], {"models": [model]}


async def test_metric_query_measures_the_error_rate_between_two_scrapes(
    tmp_path: Path, client: httpx.AsyncClient, traffic: tuple[Traffic, dict[str, object]]
) -> None:
    feed, config = traffic
    feed.set(rps=500, error_share=0.3)
    ctx = make_context(tmp_path, client, config=config)
    # The counters' history is 50% errors: only the sample's 30% may count.
    result = await metric_query(ctx, {"signal": "error_rate", "above": 0.2, "sample": "150ms"})
    assert result.outcome is Outcome.PASSED, result.summary
    assert result.output["value"] == pytest.approx(0.3, abs=0.01)
    assert result.output["requests"] > 50

    below = await metric_query(ctx, {"signal": "error_rate", "below": 0.05, "sample": 0.1})
    assert below.outcome is Outcome.FAILED
    assert "expected < 0.05" in below.summary


async def test_metric_query_reads_latency_and_memory(
    tmp_path: Path, client: httpx.AsyncClient, traffic: tuple[Traffic, dict[str, object]]
) -> None:
    feed, config = traffic
    feed.set(rps=500, latency=0.2)
    ctx = make_context(tmp_path, client, config=config)
    mean = await metric_query(ctx, {"signal": "latency_mean_s", "above": 0.15, "sample": 0.1})
    assert mean.outcome is Outcome.PASSED, mean.summary
    assert mean.output["value"] == pytest.approx(0.2, abs=0.01)
    p95 = await metric_query(ctx, {"signal": "latency_p95_s", "below": 0.25, "sample": 0.1})
    assert p95.outcome is Outcome.PASSED, p95.summary
    assert 0.1 < p95.output["value"] <= 0.25
    memory = await metric_query(ctx, {"signal": "memory_fraction", "below": 0.9})
    assert memory.outcome is Outcome.PASSED, memory.summary
    assert memory.output["value"] == pytest.approx(0.6)


async def test_metric_query_without_traffic_says_so(
    tmp_path: Path, client: httpx.AsyncClient, traffic: tuple[Traffic, dict[str, object]]
) -> None:
    _, config = traffic
    ctx = make_context(tmp_path, client, config=config)
    result = await metric_query(ctx, {"signal": "error_rate", "below": 0.05, "sample": 0.1})
    assert result.outcome is Outcome.FAILED
    assert "no requests in the 0.1s sample" in result.summary


async def test_metric_query_needs_a_metrics_url_and_a_known_signal(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    ctx = make_context(tmp_path, client, config={"models": [{"name": "iris"}]})
    none = await metric_query(ctx, {"signal": "error_rate", "below": 0.05})
    assert none.outcome is Outcome.FAILED
    assert "model iris has no metrics_url" in none.summary
    cases: list[tuple[dict[str, Any], str]] = [
        ({"signal": "accuracy"}, "parameter 'signal' must be one of"),
        ({"signal": "error_rate", "promql": "up"}, "exactly one of parameters 'promql'"),
        ({"signal": "error_rate", "above": "high"}, "parameter 'above' must be a number"),
        ({"signal": "error_rate", "above": 2, "below": 1}, "exclude every value"),
    ]
    for params, named in cases:
        result = await metric_query(ctx, params)
        assert result.outcome is Outcome.FAILED
        assert named in result.summary


async def test_metric_query_promql_needs_a_prometheus_section(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    result = await metric_query(make_context(tmp_path, client), {"promql": "up", "below": 1})
    assert result.outcome is Outcome.FAILED
    assert "no prometheus: section" in result.summary


# --- run_command --------------------------------------------------------------------------------


async def test_run_command_passes_the_incident_to_the_child_and_keeps_its_output(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    ctx = make_context(tmp_path, client)
    script = (
        "import os; print('checking', os.environ['FIREWATCH_INCIDENT'], "
        "os.environ['FIREWATCH_MODEL'], os.environ['FIREWATCH_VERSION'], "
        "os.environ['FIREWATCH_SEVERITY'], os.environ['EXTRA'], os.getcwd())"
    )
    result = await run_command(
        ctx,
        {"command": [sys.executable, "-c", script], "env": {"EXTRA": "yes"}, "cwd": str(tmp_path)},
    )
    assert result.outcome is Outcome.PASSED, result.summary
    assert result.output["exit_code"] == 0
    assert result.output["stdout"].strip() == f"checking INC-2026-007 iris v2 SEV2 yes {tmp_path}"
    assert "checking INC-2026-007" in result.summary


async def test_run_command_fails_on_an_unexpected_exit_code_with_its_stderr(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    ctx = make_context(tmp_path, client)
    command = "echo partial; echo 'ERROR: cannot reach feature store' >&2; exit 3"
    failed = await run_command(ctx, {"command": command, "shell": True})
    assert failed.outcome is Outcome.FAILED
    assert "exit 3" in failed.summary and "cannot reach feature store" in failed.summary
    assert failed.output["stdout"] == "partial\n"
    allowed = await run_command(ctx, {"command": command, "shell": True, "expect_exit": [0, 3]})
    assert allowed.outcome is Outcome.PASSED


async def test_run_command_keeps_only_the_tail_of_long_output(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    ctx = make_context(tmp_path, client)
    script = "import sys; sys.stdout.write('x' * 100_000 + 'THE END')"
    result = await run_command(ctx, {"command": [sys.executable, "-c", script]})
    assert result.outcome is Outcome.PASSED
    assert result.output["stdout"].endswith("THE END")
    assert len(result.output["stdout"].encode()) <= 16 * 1024 + 3  # plus the "…" marker


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({}, "parameter 'command' must be a non-empty argv list"),
        ({"command": "ls -l"}, "set shell: true"),
        ({"command": ["true"], "expect_exit": "zero"}, "'expect_exit'"),
        ({"command": ["true"], "env": ["A=1"]}, "'env'"),
    ],
)
async def test_run_command_names_a_bad_parameter(
    tmp_path: Path, client: httpx.AsyncClient, params: dict[str, object], named: str
) -> None:
    result = await run_command(make_context(tmp_path, client), params)
    assert result.outcome is Outcome.FAILED
    assert named in result.summary


async def test_run_command_reports_a_missing_program(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    result = await run_command(make_context(tmp_path, client), {"command": ["no-such-tool-xyz"]})
    assert result.outcome is Outcome.FAILED
    assert "cannot run `no-such-tool-xyz`" in result.summary and "PATH" in result.summary


def _gone(pid: int) -> bool:
    """Whether a process has ended (a zombie waiting for its reaper counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


async def _wait_for_pid(path: Path) -> int:
    deadline = time.monotonic() + 5
    while not path.exists() or not path.read_text().strip():
        assert time.monotonic() < deadline, "the command never started its background process"
        await asyncio.sleep(0.02)
    return int(path.read_text())


async def _assert_gone(pid: int) -> None:
    deadline = time.monotonic() + 5
    while not _gone(pid):
        assert time.monotonic() < deadline, f"process {pid} outlived the step: an orphan"
        await asyncio.sleep(0.02)


async def test_run_command_timeout_kills_the_whole_process_group(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    pidfile = tmp_path / "child.pid"
    command = f"sleep 30 & echo $! > {pidfile}; wait"
    started = time.monotonic()
    result = await run_command(
        make_context(tmp_path, client), {"command": command, "shell": True, "timeout": "300ms"}
    )
    assert result.outcome is Outcome.FAILED
    assert "timed out after 0.3s and was killed" in result.summary
    assert time.monotonic() - started < 5
    await _assert_gone(await _wait_for_pid(pidfile))


async def test_cancelling_the_step_kills_the_command_and_its_children(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    """The engine cancels a step at its timeout: nothing the command started may survive."""
    pidfile = tmp_path / "child.pid"
    command = f"sleep 30 & echo $! > {pidfile}; wait"
    step = asyncio.create_task(
        run_command(make_context(tmp_path, client), {"command": command, "shell": True})
    )
    pid = await _wait_for_pid(pidfile)
    step.cancel()
    with pytest.raises(asyncio.CancelledError):
        await step
    await _assert_gone(pid)


async def test_a_command_that_leaves_a_daemon_behind_returns_when_it_exits(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    """A hook may start a service in the background: its open output must not hold the step."""
    started = time.monotonic()
    result = await run_command(
        make_context(tmp_path, client), {"command": "sleep 30 & echo $!", "shell": True}
    )
    daemon = int(result.output["stdout"])
    try:
        assert result.outcome is Outcome.PASSED, result.summary
        assert time.monotonic() - started < 2
    finally:
        os.kill(daemon, signal.SIGKILL)
