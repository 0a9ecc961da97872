"""The runbook engine on a real database (SQLite and PostgreSQL) with real subprocess steps:
proposed actions wait for a person, checklist items, branching, timeouts of a wait, broken
runbooks and failing actions escalate, and a dry run changes nothing."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from firewatch.clock import FakeClock
from firewatch.config import FirewatchConfig
from firewatch.errors import Conflict
from firewatch.incidents import service as incident_service
from firewatch.incidents.models import IncidentRow, TimelineEntryRow
from firewatch.incidents.service import Actor
from firewatch.runbooks import runs as runbook_runs
from firewatch.runbooks.engine import RunbookEngine
from firewatch.runbooks.library import RunbookLibrary
from firewatch.runbooks.models import RunbookRunRow
from firewatch.runbooks.runs import RUN_JOB
from firewatch.severity import Severity, SeverityPolicy
from firewatch.store import jobs as job_table
from firewatch.store.db import Database
from firewatch.store.writer import Writer
from support.servers import serve_in_thread

PERSON = "jane_roe"


def _runbook(name: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": name, "title": name.replace("-", " ").title(), "steps": steps}


def _setup(
    tmp_path: Path, runbooks: list[dict[str, Any]], auto: dict[str, list[str]] | None = None
) -> tuple[RunbookLibrary, FirewatchConfig]:
    directory = tmp_path / "runbooks"
    directory.mkdir(exist_ok=True)
    for book in runbooks:
        (directory / f"{book['name']}.yaml").write_text(yaml.safe_dump(book))
    marker = tmp_path / "restarted"
    config = FirewatchConfig.model_validate(
        {
            "runbooks": {
                "directory": str(directory),
                "policy": {"auto": auto or {"SEV1": ["rollback"], "SEV2": ["rollback"]}},
                "hooks": {
                    "restart": {"command": [sys.executable, "-c", f"open({str(marker)!r}, 'w')"]},
                    "broken": {"command": [sys.executable, "-c", "raise SystemExit(3)"]},
                },
            }
        }
    )
    return RunbookLibrary.load(directory), config


async def _open(
    writer: Writer,
    clock: FakeClock,
    severity: Severity = Severity.SEV3,
    model: str | None = None,
) -> int:
    def unit(session: Session) -> int:
        row = incident_service.open_incident(
            session,
            title="Something is off",
            severity=severity,
            now=clock.now(),
            policy=SeverityPolicy(),
            actor=Actor("test"),
            model=model,
        )
        return row.id

    return await writer.run(unit)


async def _drain(engine: RunbookEngine, writer: Writer, clock: FakeClock) -> None:
    """Run every due runbook job, as the server's job runner would."""
    for _ in range(20):
        jobs = await writer.run(
            lambda s: job_table.claim_due_jobs(
                s,
                now=clock.now(),
                limit=10,
                lease=timedelta(seconds=30),
                kinds=frozenset({RUN_JOB}),
            )
        )
        if not jobs:
            return
        for job in jobs:
            await engine.run_job(job)
            await writer.run(partial(job_table.finish_job, job_id=job.id, now=clock.now()))


@asynccontextmanager
async def _started(
    tmp_path: Path,
    db: Database,
    writer: Writer,
    clock: FakeClock,
    books: list[dict[str, Any]],
    name: str,
    auto: dict[str, list[str]] | None = None,
) -> AsyncIterator[tuple[RunbookEngine, int]]:
    """An engine over ``books``, a new SEV3 incident, and runbook ``name`` run on it until it
    ends or waits."""
    library, config = _setup(tmp_path, books, auto)
    async with httpx.AsyncClient() as client:
        engine = RunbookEngine(library, config, db, writer, clock, client)
        incident = await _open(writer, clock)
        await _start(engine, writer, incident, name)
        await _drain(engine, writer, clock)
        yield engine, incident


async def _start(engine: RunbookEngine, writer: Writer, incident_id: int, name: str) -> None:
    def unit(session: Session) -> None:
        incident = session.get(IncidentRow, incident_id)
        assert incident is not None
        assert engine.start(session, incident, name)

    await writer.run(unit)


def _kinds(db: Database, incident_id: int) -> list[str]:
    with db.read_session() as session:
        return list(
            session.scalars(
                select(TimelineEntryRow.kind)
                .where(TimelineEntryRow.incident_id == incident_id)
                .order_by(TimelineEntryRow.id)
            )
        )


def _texts(db: Database, incident_id: int) -> str:
    with db.read_session() as session:
        return "\n".join(
            session.scalars(
                select(TimelineEntryRow.event).where(TimelineEntryRow.incident_id == incident_id)
            )
        )


def _run(db: Database, incident_id: int) -> RunbookRunRow:
    with db.read_session() as session:
        run = session.scalar(select(RunbookRunRow).where(RunbookRunRow.incident_id == incident_id))
        assert run is not None
        session.expunge(run)
        return run


async def _decide(
    writer: Writer,
    clock: FakeClock,
    library: RunbookLibrary,
    incident_id: int,
    runbook: str,
    step: str,
    decision: str,
) -> None:
    def unit(session: Session) -> None:
        incident = session.get(IncidentRow, incident_id)
        assert incident is not None
        runbook_runs.decide(
            session,
            library=library,
            now=clock.now(),
            incident=incident,
            runbook=runbook,
            step=step,
            decision=decision,
            actor=PERSON,
            note="looked at it",
        )

    await writer.run(unit)


PROPOSAL = _runbook(
    "restart-it",
    [
        {
            "id": "diagnose",
            "title": "Diagnose",
            "type": "check",
            "uses": "run_command",
            "with": {"command": ["echo", "all pods pending"]},
        },
        {
            "id": "restart",
            "title": "Restart the service",
            "type": "action",
            "uses": "hook",
            "with": {"hook": "restart", "action": "restart"},
        },
        {
            "id": "escalate",
            "title": "Escalate",
            "type": "escalate",
            "when": [{"step": "restart", "outcome": ["skipped", "failed"]}],
        },
    ],
)


async def test_a_proposed_action_waits_for_approval_then_runs(
    tmp_path: Path, db: Database, writer: Writer, clock: FakeClock
) -> None:
    async with _started(tmp_path, db, writer, clock, [PROPOSAL], "restart-it") as (
        engine,
        incident,
    ):
        assert not (tmp_path / "restarted").exists(), "policy keeps a SEV3 restart for a person"
        kinds = _kinds(db, incident)
        assert kinds[-2:] == ["check", "action_proposed"]
        assert "firewatch runbook approve" in _texts(db, incident)
        run = _run(db, incident)
        assert run.status == "waiting" and run.waiting and run.waiting["step"] == "restart"

        with pytest.raises(Conflict, match="nothing to decide"):
            await _decide(
                writer, clock, engine.library, incident, "restart-it", "diagnose", "approve"
            )
        await _decide(writer, clock, engine.library, incident, "restart-it", "restart", "approve")
        await _drain(engine, writer, clock)

    assert (tmp_path / "restarted").exists()
    kinds = _kinds(db, incident)
    assert kinds[-4:] == [
        "action_approved",
        "action_started",
        "action_succeeded",
        "runbook_finished",
    ]
    assert "escalated" not in kinds
    assert _run(db, incident).status == "finished"


async def test_a_rejected_action_is_skipped_and_the_runbook_escalates(
    tmp_path: Path, db: Database, writer: Writer, clock: FakeClock
) -> None:
    async with _started(tmp_path, db, writer, clock, [PROPOSAL], "restart-it") as (
        engine,
        incident,
    ):
        library = engine.library
        await _decide(writer, clock, library, incident, "restart-it", "restart", "reject")
        await _drain(engine, writer, clock)
    assert not (tmp_path / "restarted").exists()
    kinds = _kinds(db, incident)
    assert "action_rejected" in kinds and "escalated" in kinds and "action_started" not in kinds
    assert _run(db, incident).results["restart"]["outcome"] == "skipped"


async def test_an_unanswered_proposal_times_out_and_escalates(
    tmp_path: Path, db: Database, writer: Writer, clock: FakeClock
) -> None:
    async with _started(tmp_path, db, writer, clock, [PROPOSAL], "restart-it") as (
        engine,
        incident,
    ):
        clock.advance(timedelta(minutes=29))
        await _drain(engine, writer, clock)
        assert _run(db, incident).status == "waiting"
        clock.advance(timedelta(minutes=2))
        await _drain(engine, writer, clock)
    text = _texts(db, incident)
    assert "not approved within 30m" in text
    assert _kinds(db, incident)[-3:] == ["action_failed", "escalated", "runbook_finished"]


async def test_policy_lets_an_action_run_alone(
    tmp_path: Path, db: Database, writer: Writer, clock: FakeClock
) -> None:
    async with _started(
        tmp_path, db, writer, clock, [PROPOSAL], "restart-it", auto={"SEV3": ["restart"]}
    ) as (_, incident):
        pass  # the run has ended or waits
    assert (tmp_path / "restarted").exists()
    assert "action_proposed" not in _kinds(db, incident)


CHECKLIST = _runbook(
    "checklist",
    [
        {"id": "look", "title": "Look at the dashboard", "type": "manual"},
        {
            "id": "confirm",
            "title": "Confirm with the data team",
            "type": "manual",
            "blocking": True,
            "timeout": "10m",
        },
        {
            "id": "after",
            "title": "After",
            "type": "check",
            "uses": "run_command",
            "with": {"command": ["true"]},
            "when": [{"step": "confirm", "outcome": "passed"}],
        },
    ],
)


async def test_checklist_items_blocking_and_not(
    tmp_path: Path, db: Database, writer: Writer, clock: FakeClock
) -> None:
    async with _started(tmp_path, db, writer, clock, [CHECKLIST], "checklist") as (
        engine,
        incident,
    ):
        library = engine.library
        run = _run(db, incident)
        assert run.results["look"]["outcome"] == "pending"
        assert run.waiting is not None and run.waiting["step"] == "confirm"
        assert _kinds(db, incident).count("manual_step") == 2

        await _decide(writer, clock, library, incident, "checklist", "look", "done")
        assert _run(db, incident).results["look"]["outcome"] == "passed"
        with pytest.raises(Conflict, match="manual step: done or skip it"):
            await _decide(writer, clock, library, incident, "checklist", "confirm", "approve")
        await _decide(writer, clock, library, incident, "checklist", "confirm", "done")
        await _drain(engine, writer, clock)
    run = _run(db, incident)
    assert run.status == "finished"
    assert run.results["after"]["outcome"] == "passed"
    assert _kinds(db, incident).count("manual_step_done") == 2


async def test_branching_jumps_forward_on_an_outcome(
    tmp_path: Path, db: Database, writer: Writer, clock: FakeClock
) -> None:
    book = _runbook(
        "branchy",
        [
            {
                "id": "probe",
                "title": "Probe",
                "type": "check",
                "uses": "run_command",
                "with": {"command": ["false"]},
                "next": {"failed": "plan-b"},
            },
            {
                "id": "plan-a",
                "title": "Plan A",
                "type": "check",
                "uses": "run_command",
                "with": {"command": ["true"]},
            },
            {
                "id": "plan-b",
                "title": "Plan B",
                "type": "check",
                "uses": "run_command",
                "with": {"command": ["true"]},
            },
        ],
    )
    async with _started(tmp_path, db, writer, clock, [book], "branchy") as (_, incident):
        pass  # the run has ended or waits
    results = _run(db, incident).results
    assert results["probe"]["outcome"] == "failed"
    assert "plan-a" not in results and results["plan-b"]["outcome"] == "passed"


async def test_a_failing_action_escalates_even_without_an_escalate_step(
    tmp_path: Path, db: Database, writer: Writer, clock: FakeClock
) -> None:
    book = _runbook(
        "fails",
        [
            {
                "id": "restart",
                "title": "Restart",
                "type": "action",
                "uses": "hook",
                "with": {"hook": "broken", "action": "restart"},
            }
        ],
    )
    async with _started(tmp_path, db, writer, clock, [book], "fails", auto={"SEV3": ["*"]}) as (
        _,
        incident,
    ):
        pass  # the run has ended or waits
    assert _kinds(db, incident)[-3:] == ["action_failed", "runbook_finished", "escalated"]
    assert "runbook fails did not mitigate" in _texts(db, incident)


async def test_a_broken_runbook_is_said_and_escalated(
    tmp_path: Path, db: Database, writer: Writer, clock: FakeClock
) -> None:
    library, config = _setup(tmp_path, [])
    (tmp_path / "runbooks" / "bad.yaml").write_text(
        "name: bad\ntitle: Bad\nsteps: [{id: a, type: cheque}]\n"
    )
    library = RunbookLibrary.load(tmp_path / "runbooks")
    async with httpx.AsyncClient() as client:
        engine = RunbookEngine(library, config, db, writer, clock, client)
        incident = await _open(writer, clock)

        def unit(session: Session) -> bool:
            row = session.get(IncidentRow, incident)
            assert row is not None
            return engine.start(session, row, "bad")

        assert not await writer.run(unit)
    assert _kinds(db, incident)[-2:] == ["note", "escalated"]
    assert "Runbook bad cannot run" in _texts(db, incident) and "steps.0" in _texts(db, incident)


async def test_a_dry_run_changes_nothing(
    tmp_path: Path, db: Database, writer: Writer, clock: FakeClock
) -> None:
    library, config = _setup(tmp_path, [PROPOSAL])
    async with httpx.AsyncClient() as client:
        engine = RunbookEngine(library, config, db, writer, clock, client)
        plan = await engine.plan(
            library.get("restart-it"), model=None, severity=Severity.SEV3, display_id="INC-DRY-RUN"
        )
    assert [(p.step, p.mode, p.outcome) for p in plan] == [
        ("diagnose", "automatic", "passed"),
        ("restart", "needs approval", "passed"),
        ("escalate", "escalation", "skipped"),
    ]
    assert plan[1].summary.startswith("would run hook restart")
    assert not (tmp_path / "restarted").exists()
    with db.read_session() as session:
        assert session.scalar(select(RunbookRunRow)) is None


async def test_an_action_that_times_out_is_failed_and_escalated(
    tmp_path: Path, db: Database, writer: Writer, clock: FakeClock
) -> None:
    book = _runbook(
        "hangs",
        [
            {
                "id": "restart",
                "title": "Restart",
                "type": "action",
                "uses": "run_command",
                "with": {"command": ["sleep", "30"]},
                "timeout": "300ms",
            },
        ],
    )
    async with _started(tmp_path, db, writer, clock, [book], "hangs", auto={"SEV3": ["*"]}) as (
        _,
        incident,
    ):
        pass  # the run has ended or waits
    assert _kinds(db, incident)[-3:] == ["action_failed", "runbook_finished", "escalated"]
    assert "Restart failed: timed out after 300ms" in _texts(db, incident)
    assert _run(db, incident).results["restart"]["broken"] is True


async def test_model_unavailable_pages_nobody_when_the_service_answers_again(
    tmp_path: Path, db: Database, writer: Writer, clock: FakeClock
) -> None:
    """ModelUnavailable joining an incident another runbook already rolled back (or a flap):
    the built-in runbook finds /health answering, so it neither rolls back nor escalates."""

    async def health(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    with serve_in_thread(Starlette(routes=[Route("/health", health)])) as url:
        config = FirewatchConfig.model_validate(
            {"models": [{"name": "iris", "health_url": f"{url}/health"}]}
        )
        async with httpx.AsyncClient() as client:
            engine = RunbookEngine(RunbookLibrary.load(), config, db, writer, clock, client)

            incident = await _open(writer, clock, Severity.SEV1, model="iris")
            await _start(engine, writer, incident, "model-unavailable")
            await _drain(engine, writer, clock)
    assert "not confirmed: GET" in _texts(db, incident)
    assert "escalated" not in _kinds(db, incident)
    assert _run(db, incident).status == "finished"
