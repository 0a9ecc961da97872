"""The evidence steps runbooks use mid-run: ``collect_logs`` (a real file, a real command),
``drift_status`` and ``error_samples`` (the server's in-process state, as app.py provides it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from firewatch.clock import FakeClock
from firewatch.config import FirewatchConfig
from firewatch.detect.events import EventIn, InferenceEvents
from firewatch.detect.runner import DriftFindings
from firewatch.runbooks.schema import Outcome
from firewatch.runbooks.steps import STEPS
from firewatch.runbooks.steps.base import EvidenceSources, IncidentView, StepContext
from firewatch.store.db import Database
from firewatch.store.writer import Writer

T0 = datetime(2026, 1, 15, 14, 30, tzinfo=UTC)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def context(
    tmp_path: Path, client: httpx.AsyncClient, *, logs: dict[str, Any] | None = None
) -> StepContext:
    """A step context for INC-2026-007 about iris (steps here never write to the database)."""
    model: dict[str, Any] = {"name": "iris", "runbook": None}
    if logs is not None:
        model["logs"] = logs
    config = FirewatchConfig.model_validate({"models": [model]})
    db = Database(f"sqlite:///{tmp_path}/steps.db")
    return StepContext(
        incident=IncidentView(7, "INC-2026-007", "iris", "v3", T0, "triggered", severity="SEV2"),
        model=config.model("iris"),
        settings=config.runbooks,
        db=db,
        writer=Writer(db),
        clock=FakeClock(T0),
        client=client,
        actor="firewatch:runbook",
        config=config,
    )


def provide(
    ctx: StepContext,
    *,
    drift: DriftFindings | None = None,
    events: InferenceEvents | None = None,
    signals: dict[str, float] | None = None,
) -> StepContext:
    """``ctx`` as the server's runbook engine makes it: with readers of its in-process state."""
    windows = events or InferenceEvents(ctx.config.models)
    return replace(
        ctx,
        evidence=EvidenceSources(
            signals=lambda model: signals or {},
            failures=lambda model: windows.failures(model, T0),
            drift=lambda model: drift,
        ),
    )


async def test_collect_logs_passes_with_the_error_lines_it_found(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    log = tmp_path / "iris.log"
    log.write_text(
        "INFO ready\nReason: OOMKilled\nTraceback (most recent call last):\nOOMKilled again\n"
        "OperationalError: could not connect to server\nINFO bye\n"
    )
    ctx = context(tmp_path, client, logs={"file": str(log)})
    result = await STEPS["collect_logs"](ctx, {})
    assert result.outcome is Outcome.PASSED
    assert result.summary == (
        f"3 crash lines (OOMKilled), 1 database error (OperationalError) in the last 6 lines of "
        f"file {log}"
    )
    assert result.output["matches"]["database"] == ["OperationalError: could not connect to server"]
    assert result.output["counts"] == {"crash": 3, "database": 1, "application": 0}
    assert result.output["category"] == "database"  # the most specific kind found, for `when:`

    log.write_text("INFO ready\nINFO serving\n")
    quiet = await STEPS["collect_logs"](ctx, {})
    assert quiet.outcome is Outcome.FAILED
    assert quiet.summary == (
        f"no crash, database or application errors in the last 2 lines of file {log}"
    )


async def test_collect_logs_fails_clearly_without_a_readable_source(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    unconfigured = await STEPS["collect_logs"](context(tmp_path, client), {})
    assert unconfigured.outcome is Outcome.SKIPPED
    assert unconfigured.summary == (
        "no log source configured for model iris (models[].logs: file, command or url)"
    )
    ctx = context(tmp_path, client, logs={"command": ["sh", "-c", "echo forbidden >&2; exit 2"]})
    broken = await STEPS["collect_logs"](ctx, {})
    assert broken.outcome is Outcome.FAILED
    assert broken.summary == (
        "could not read the logs: command `sh -c 'echo forbidden >&2; exit 2'` exited with "
        "code 2: forbidden"
    )


async def test_drift_status_reports_what_drifted_now(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    ctx = context(tmp_path, client)
    outside = await STEPS["drift_status"](ctx, {})
    assert outside.outcome is Outcome.FAILED
    assert outside.summary == "only the running Firewatch server knows the drift state of iris"

    ctx = provide(ctx, drift=None)
    unwatched = await STEPS["drift_status"](ctx, {})
    assert unwatched.summary == "drift is not monitored for iris (no models[].drift in the config)"

    ctx = provide(ctx, drift=DriftFindings(judged_at=None))
    early = await STEPS["drift_status"](ctx, {})
    assert early.outcome is Outcome.FAILED
    assert early.summary.startswith("drift of iris not judged yet")

    since = T0 - timedelta(minutes=12)
    drifted = DriftFindings(
        judged_at=T0,
        data_drift=True,
        share=0.5,
        features={"income": since + timedelta(minutes=2), "age": since},
        quality_findings=2,
        detail="2 of 4 features drifted …",
    )
    ctx = provide(ctx, drift=drifted)
    found = await STEPS["drift_status"](ctx, {})
    assert found.outcome is Outcome.PASSED
    assert found.summary == (
        "data drift in 2 features (age, income), 2 data-quality findings for iris"
    )
    assert found.output["features"] == {
        "age": since.isoformat(),
        "income": (since + timedelta(minutes=2)).isoformat(),
    }
    assert found.output["quality_findings"] == 2

    ctx = provide(ctx, drift=DriftFindings(judged_at=T0, share=0.0))
    calm = await STEPS["drift_status"](ctx, {})
    assert calm.outcome is Outcome.FAILED
    assert calm.summary == "no data drift or data-quality findings for iris now"


async def test_error_samples_show_failing_requests_and_their_types(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    ctx = context(tmp_path, client)
    windows = InferenceEvents(ctx.config.models)
    ctx = provide(ctx, events=windows)
    nothing = await STEPS["error_samples"](ctx, {})
    assert nothing.outcome is Outcome.FAILED
    assert nothing.summary.startswith("no inference events from iris yet")
    ctx = provide(ctx, events=windows, signals={"error_rate": 0.31})  # scraped from its /metrics
    scraped = await STEPS["error_samples"](ctx, {})
    assert scraped.outcome is Outcome.PASSED
    assert scraped.summary.startswith(
        "31% of requests are failing (error rate from its metrics); no samples: no inference "
        "events from iris yet"
    )
    ctx = provide(ctx, events=windows)

    ok = [EventIn(request_id=f"ok{i}", model_version="v3") for i in range(40)]
    windows.of("iris").add_events(ok, T0 - timedelta(seconds=30))
    healthy = await STEPS["error_samples"](ctx, {})
    assert healthy.outcome is Outcome.FAILED
    assert healthy.summary == "no failing requests among 40 in the last 5m"

    bad = [
        EventIn(
            request_id=f"bad{i}",
            model_version="v3",
            error=True,
            error_type="ValueError" if i % 5 else "timeout",
            error_message=f"could not convert 'n/a' (row {i})",
            segment={"region": "eu"},
        )
        for i in range(30)
    ]
    windows.of("iris").add_events(bad, T0 - timedelta(seconds=10))
    failing = await STEPS["error_samples"](ctx, {"samples": 3})
    assert failing.outcome is Outcome.PASSED
    assert failing.summary == (
        "30 of 70 requests failed in the last 5m (by error type: ValueError 80%, timeout 20%)"
    )
    assert failing.output["by_type"] == {"ValueError": 24, "timeout": 6}
    assert failing.output["top_error_type"] == "ValueError"
    assert [s["request_id"] for s in failing.output["samples"]] == ["bad27", "bad28", "bad29"]
    assert failing.output["samples"][-1] == {
        "request_id": "bad29",
        "at": (T0 - timedelta(seconds=10)).isoformat(),
        "version": "v3",
        "error_type": "ValueError",
        "message": "could not convert 'n/a' (row 29)",
        "segment": {"region": "eu"},
        "features": {},
    }


def test_the_failed_request_buffer_is_bounded_and_follows_the_window() -> None:
    windows = InferenceEvents([])
    iris = windows.of("iris")
    failed = [EventIn(request_id=f"f{i}", error=True) for i in range(500)]
    iris.add_events(failed, T0)
    summary = windows.failures("iris", T0)
    assert summary is not None
    assert (summary.requests, summary.errors, summary.by_type) == (500, 500, {"unspecified": 500})
    assert [s.request_id for s in summary.samples] == [f"f{i}" for i in range(480, 500)]
    later = windows.failures("iris", T0 + timedelta(minutes=6))  # past the 5-minute window
    assert later is not None
    assert (later.requests, later.samples) == (0, [])
    assert windows.failures("never-seen", T0) is None
