"""The investigation at incident open: one job per incident, then one timeline entry with the
recent deploys, drift, failed requests, current signals and log lines — gathered from a real
registry, real detection state (events, drift against a reference file) and a real log file —
and every source it could not read named under ``problems``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import select

from firewatch.alerts.schemas import Alert
from firewatch.clock import FakeClock
from firewatch.config import FirewatchConfig
from firewatch.detect.events import EventIn, InferenceEvents, parse_events
from firewatch.detect.runner import DetectionRunner
from firewatch.incidents import service as incident_service
from firewatch.incidents.lifecycle import Status
from firewatch.incidents.models import IncidentRow, TimelineEntryRow
from firewatch.incidents.service import Actor
from firewatch.registry import service as registry_service
from firewatch.runbooks.investigation import (
    ACTOR,
    INVESTIGATE_JOB,
    Investigator,
)
from firewatch.runbooks.steps.base import EvidenceSources
from firewatch.severity import DEFAULT_POLICY, Severity
from firewatch.store import events as event_log
from firewatch.store.db import Database
from firewatch.store.jobs import Job, JobRow
from firewatch.store.writer import Writer

T0 = datetime(2026, 1, 15, 14, 30, tzinfo=UTC)
RNG = np.random.default_rng(11)
SERVICE_LOG = [
    "INFO serving v3",
    "Last State: Terminated, Reason: OOMKilled, Exit Code: 137",
    "OOMKilled: worker 2 exceeded its memory limit",
    "Traceback (most recent call last):",
    "psycopg2.OperationalError: could not connect to server: Connection refused",
    "INFO POST /predict 200",
]


class Alerts:
    """Detection's sink for these tests: alerts are kept, health is ignored."""

    def __init__(self) -> None:
        self.seen: list[Alert] = []

    async def alerts(self, alerts: list[Alert]) -> None:
        self.seen.extend(alerts)

    async def health(
        self, model: str, healthy: bool, at: datetime, version: str | None = None
    ) -> None:
        return None

    async def current_version(self, model: str) -> str | None:
        return "v3"

    async def served_versions(self, model: str) -> frozenset[str]:
        return frozenset()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def writer(sqlite_db: Database) -> Iterator[Writer]:
    running = Writer(sqlite_db)
    running.start()
    yield running
    running.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def write_reference(path: Path, rows: int = 2000) -> Path:
    age = RNG.normal(40, 10, rows)
    income = RNG.lognormal(10, 0.5, rows)
    lines = ["age,income,prediction,label"]
    lines += [
        f"{a:.3f},{i:.2f},{int(a > 45)},{int(a > 45)}" for a, i in zip(age, income, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def config_for(tmp_path: Path, **model: Any) -> FirewatchConfig:
    log = tmp_path / "iris.log"
    log.write_text("\n".join(SERVICE_LOG) + "\n")
    return FirewatchConfig.model_validate(
        {
            "models": [
                {
                    "name": "iris",
                    "runbook": None,
                    "events": {"min_events": 20, "evaluate_every": "1s"},
                    "drift": {
                        "reference": str(write_reference(tmp_path / "reference.csv")),
                        "min_rows": 100,
                        "evaluate_every": "1s",
                    },
                    "logs": {"file": str(log)},
                    **model,
                }
            ],
            "runbooks": {"recent_deploy_window": "30m"},
        }
    )


def traffic(count: int, *, age_shift: float) -> list[EventIn]:
    """Requests of the last minutes: inputs shifted in age, 30% failing (80% ValueError)."""
    body: list[dict[str, Any]] = []
    for k, age in enumerate(RNG.normal(40 + age_shift, 10, count)):
        event: dict[str, Any] = {
            "request_id": f"r{k}",
            "model_version": "v3",
            "latency_ms": 120,
            "features": {"age": float(age), "income": float(RNG.lognormal(10, 0.5))},
            "prediction": int(age > 45),
        }
        if k % 10 < 3:
            kind = "timeout" if k % 50 < 3 else "ValueError"
            event |= {"error": True, "error_type": kind, "error_message": f"bad row {k}"}
        body.append(event)
    return parse_events(json.dumps({"events": body}).encode())


def sources_of(runner: DetectionRunner, clock: FakeClock) -> EvidenceSources:
    """The readers app.py injects, over this runner's state."""
    events = runner.events
    assert events is not None
    return EvidenceSources(
        signals=runner.current_signals,
        failures=lambda model: events.failures(model, clock.now()),
        drift=runner.drift_findings,
    )


def quiet(config: FirewatchConfig, clock: FakeClock, client: httpx.AsyncClient) -> EvidenceSources:
    """Detection that has seen nothing yet."""
    events = InferenceEvents(config.models)
    runner = DetectionRunner(config, sink=Alerts(), clock=clock, client=client, events=events)
    return sources_of(runner, clock)


async def detection(
    config: FirewatchConfig, clock: FakeClock, client: httpx.AsyncClient
) -> EvidenceSources:
    """Real detection state after a burst of traffic whose inputs moved and 30% failed."""
    events = InferenceEvents(config.models)
    runner = DetectionRunner(config, sink=Alerts(), clock=clock, client=client, events=events)
    events.of("iris").add_events(traffic(500, age_shift=15.0), clock.now())
    await runner.judge_events()
    return sources_of(runner, clock)


def deploy_history(db: Database) -> None:
    with db.write_session() as s:
        for version in ("v1", "v2", "v3"):
            registry_service.register_version(
                s, model="iris", version=version, now=T0 - timedelta(days=1)
            )
        for version, before in (("v1", timedelta(hours=3)), ("v2", timedelta(hours=2))):
            registry_service.deploy(s, model="iris", version=version, now=T0 - before, actor="ci")
        registry_service.deploy(
            s, model="iris", version="v3", now=T0 - timedelta(seconds=42), actor="ci"
        )


def open_incident(db: Database, clock: FakeClock, *, model: str | None = "iris") -> int:
    with db.write_session() as s:
        row = incident_service.open_incident(
            s,
            title="High error rate",
            severity=Severity.SEV2,
            now=clock.now(),
            policy=DEFAULT_POLICY,
            actor=Actor("firewatch", human=False),
            model=model,
            source="alert",
        )
        return row.id


def investigator(
    config: FirewatchConfig,
    db: Database,
    writer: Writer,
    clock: FakeClock,
    client: httpx.AsyncClient,
    sources: EvidenceSources,
) -> Investigator:
    return Investigator(config, db, writer, clock, client, sources)


def entries(db: Database, incident_id: int) -> list[TimelineEntryRow]:
    with db.read_session() as s:
        rows = s.scalars(
            select(TimelineEntryRow).where(
                TimelineEntryRow.incident_id == incident_id,
                TimelineEntryRow.kind == "investigation",
            )
        )
        return list(rows)


def job_for(incident_id: int) -> Job:
    return Job(
        1,
        INVESTIGATE_JOB,
        f"investigate:{incident_id}",
        {"incident_id": incident_id},
        1,
        3,
        incident_id,
        T0,
    )


async def test_each_open_incident_about_a_model_gets_one_investigation_job(
    sqlite_db: Database, writer: Writer, clock: FakeClock, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    config = config_for(tmp_path)
    worker = investigator(config, sqlite_db, writer, clock, client, quiet(config, clock, client))
    about_iris = open_incident(sqlite_db, clock)
    no_model = open_incident(sqlite_db, clock, model=None)
    with sqlite_db.read_session() as s:
        opened = [e for e in event_log.read_events(s, after=0, limit=10) if e.type in worker.types]
    assert len(opened) == 2
    for event in (*opened, *opened):  # at-least-once delivery: the same event twice
        await writer.run(partial(worker.on_event, event=event))
    with sqlite_db.read_session() as s:
        jobs = list(s.scalars(select(JobRow).where(JobRow.kind == INVESTIGATE_JOB)))
    assert [(j.key, j.incident_id) for j in jobs] == [(f"investigate:{about_iris}", about_iris)]
    assert no_model not in {j.incident_id for j in jobs}

    with sqlite_db.write_session() as s:  # an incident already over by the time it is read
        row = s.get(IncidentRow, about_iris)
        assert row is not None
        row.status = Status.RESOLVED.value
    later = open_incident(sqlite_db, clock)
    with sqlite_db.write_session() as s:
        row = s.get(IncidentRow, later)
        assert row is not None
        row.status = Status.CLOSED.value
        event = next(
            e for e in event_log.read_events(s, after=0, limit=10) if e.incident_id == later
        )
        worker.on_event(s, event)
        assert s.scalar(select(JobRow).where(JobRow.incident_id == later)) is None


async def test_the_investigation_records_deploys_drift_errors_signals_and_logs_once(
    sqlite_db: Database, writer: Writer, clock: FakeClock, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    config = config_for(tmp_path)
    deploy_history(sqlite_db)
    sources = await detection(config, clock, client)
    incident = open_incident(sqlite_db, clock)
    worker = investigator(config, sqlite_db, writer, clock, client, sources)
    clock.advance(seconds=1)

    await worker.investigate(job_for(incident))
    await worker.investigate(job_for(incident))  # a job re-run after a crash adds nothing

    [entry] = entries(sqlite_db, incident)
    assert entry.actor == ACTOR and entry.at == T0 + timedelta(seconds=1)
    assert entry.event == (
        "Investigation: v3 deployed 42s before the incident (replacing v2); "
        "data drift in 1 feature (age), prediction drift, 1 data-quality finding; "
        "error rate 30% (by error type: ValueError 80%, timeout 20%), p95 latency 129ms; "
        "logs: 3 crash lines (OOMKilled), 1 database error (OperationalError)"
    )
    details = entry.details
    assert set(details) == {"deployments", "drift", "signals", "error_samples", "logs", "problems"}
    deployments = details["deployments"]
    assert deployments["live"]["version"] == "v3"
    assert deployments["last_known_good"] is None  # no version was ever seen healthy
    assert [
        (d["version"], d["previous_version"], d["before_incident_s"]) for d in deployments["recent"]
    ] == [("v3", "v2", 42.0)]
    assert list(details["drift"]["features"]) == ["age"]
    assert "age: drifted" in details["drift"]["detail"]
    assert details["signals"]["error_rate"] == pytest.approx(0.3)
    errors = details["error_samples"]
    assert (errors["requests"], errors["errors"]) == (500, 150)
    assert errors["by_type"] == {"ValueError": 120, "timeout": 30}
    assert len(errors["samples"]) == 10
    sample = errors["samples"][-1]
    assert sample["request_id"] == "r492" and sample["version"] == "v3"
    assert sample["message"] == "bad row 492" and set(sample["features"]) == {"age", "income"}
    logs = details["logs"]
    assert logs["source"] == f"file {tmp_path / 'iris.log'}"
    assert logs["lines"] == SERVICE_LOG
    assert logs["matches"] == {
        "crash": SERVICE_LOG[1:4],
        "database": [SERVICE_LOG[4]],
        "application": [],
    }
    assert details["problems"] == []


async def test_what_cannot_be_gathered_is_named_and_the_rest_still_recorded(
    sqlite_db: Database, writer: Writer, clock: FakeClock, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    config = config_for(tmp_path, logs={"command": ["sh", "-c", "echo 'no such pod' >&2; exit 1"]})
    sources = await detection(config, clock, client)

    def broken(model: str) -> dict[str, float]:
        raise RuntimeError("signal store went away")

    sources = EvidenceSources(signals=broken, failures=sources.failures, drift=sources.drift)
    incident = open_incident(sqlite_db, clock)  # iris was never registered
    worker = investigator(config, sqlite_db, writer, clock, client, sources)
    await worker.investigate(job_for(incident))
    [entry] = entries(sqlite_db, incident)
    assert entry.event.startswith("Investigation: deployments unknown; data drift in 1 feature")
    assert entry.event.endswith(
        "; error rate 30% (by error type: ValueError 80%, timeout 20%); logs unavailable (see problems)"
    )
    assert entry.details["problems"] == [
        "deployments: iris is not in Firewatch's registry, so its deploy history is unknown "
        "(register versions with `firewatch model register`)",
        "signals: could not be gathered (RuntimeError: signal store went away)",
        "logs: command `sh -c 'echo '\"'\"'no such pod'\"'\"' >&2; exit 1'` exited with code 1: "
        "no such pod",
    ]
    assert entry.details["error_samples"]["errors"] == 150


async def test_a_model_firewatch_does_not_watch_still_gets_its_deploy_history(
    sqlite_db: Database, writer: Writer, clock: FakeClock, client: httpx.AsyncClient
) -> None:
    deploy_history(sqlite_db)
    config = FirewatchConfig()
    sources = quiet(config, clock, client)
    incident = open_incident(sqlite_db, clock)
    await investigator(config, sqlite_db, writer, clock, client, sources).investigate(
        job_for(incident)
    )
    [entry] = entries(sqlite_db, incident)
    assert entry.event == (
        "Investigation: v3 deployed 42s before the incident (replacing v2); "
        "drift not monitored; logs not configured"
    )
    assert entry.details["problems"] == [
        "drift: not monitored for iris (no models[].drift in the config)",
        "signals: none measured for iris yet (no /metrics scrape, health probe or inference "
        "events)",
        "error samples: iris has sent no inference events (POST /api/v1/models/iris/events), "
        "so no failed requests can be shown",
        "logs: no log source configured for iris (models[].logs: file, command or url)",
    ]


async def test_a_job_that_gives_up_says_so_on_the_timeline(
    sqlite_db: Database, writer: Writer, clock: FakeClock, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    config = config_for(tmp_path)
    worker = investigator(config, sqlite_db, writer, clock, client, quiet(config, clock, client))
    incident = open_incident(sqlite_db, clock)
    await writer.run(lambda s: worker.on_dead(s, job_for(incident), "gave up after 3 attempts"))
    with sqlite_db.read_session() as s:
        notes = list(
            s.scalars(select(TimelineEntryRow.event).where(TimelineEntryRow.kind == "note"))
        )
    assert notes == ["Automatic investigation could not run: gave up after 3 attempts"]


async def test_a_recent_rollback_reads_as_one(
    sqlite_db: Database, writer: Writer, clock: FakeClock, client: httpx.AsyncClient
) -> None:
    deploy_history(sqlite_db)
    with sqlite_db.write_session() as s:
        registry_service.rollback(
            s, model="iris", to="v2", now=T0 - timedelta(seconds=5), actor="jane", reason="bad v3"
        )
    config = FirewatchConfig.model_validate({"runbooks": {"recent_deploy_window": "10s"}})
    incident = open_incident(sqlite_db, clock)
    await investigator(
        config, sqlite_db, writer, clock, client, quiet(config, clock, client)
    ).investigate(job_for(incident))
    [entry] = entries(sqlite_db, incident)
    assert entry.event == (
        "Investigation: rolled back to v2 5s before the incident (replacing v3); "
        "drift not monitored; logs not configured"
    )
    rollback = entry.details["deployments"]["recent"][0]
    assert (rollback["kind"], rollback["actor"], rollback["reason"]) == (
        "rollback",
        "jane",
        "bad v3",
    )
