"""Drill runs in the database: one per model at a time, overdue ones abandoned, and incidents that
open while one runs are marked ([DRILL] title, drill label, drill_run_id) and left out of stats."""

from __future__ import annotations

from datetime import timedelta

import pytest

from firewatch.alerts import pipeline
from firewatch.alerts.schemas import Alert
from firewatch.clock import FakeClock
from firewatch.drills import service as drill_service
from firewatch.drills.models import ABANDONED, FINISHED, RUNNING
from firewatch.drills.schemas import DrillFinishIn, DrillOutcome, DrillStartIn, DrillTrigger
from firewatch.errors import Conflict, NotFound
from firewatch.incidents import queries as incident_queries
from firewatch.incidents import service as incident_service
from firewatch.severity import DEFAULT_POLICY
from firewatch.store.db import Database
from support.api import api_client

POLICY = pipeline.AlertPolicy(severity=DEFAULT_POLICY)


def _start(db: Database, clock: FakeClock, model: str = "iris", limit: float = 60) -> int:
    drill = DrillStartIn(
        scenario="model-down", model=model, trigger=DrillTrigger.CLI, time_limit_s=limit
    )
    with db.write_session() as s:
        return drill_service.start_drill(s, drill=drill, actor="tester", now=clock.now()).id


def _finish(db: Database, clock: FakeClock, run_id: int) -> None:
    result = DrillFinishIn(
        outcome=DrillOutcome.PASS, incident="INC-2026-001", times={"detect": 1.5}
    )
    with db.write_session() as s:
        drill_service.finish_drill(s, run_id=run_id, result=result, now=clock.now())


def _fire(db: Database, clock: FakeClock, model: str) -> str:
    alert = Alert(
        labels={
            "alertname": "ModelUnavailable",
            "model": model,
            "severity": "SEV1",
            "source": "probe",
        },
        starts_at=clock.now(),
    )
    with db.write_session() as s:
        [result] = pipeline.process_alerts(s, alerts=[alert], now=clock.now(), policy=POLICY)
    assert result.incident is not None
    return result.incident


def test_one_running_drill_per_model(db: Database, clock: FakeClock) -> None:
    first = _start(db, clock)
    with pytest.raises(Conflict, match="already running on iris"):
        _start(db, clock)
    _start(db, clock, model="other")  # another model is fine
    _finish(db, clock, first)
    _start(db, clock)  # finished: the model is free again
    with db.read_session() as s:
        row = drill_service.get_drill(s, run_id=first)
        assert (row.status, row.outcome, row.times) == (FINISHED, "pass", {"detect": 1.5})


def test_an_overdue_drill_is_abandoned_and_marks_nothing(db: Database, clock: FakeClock) -> None:
    stale = _start(db, clock, limit=30)
    clock.advance(seconds=31)
    with db.read_session() as s:
        assert drill_service.running_drills(s, now=clock.now()) == {}
    with db.read_session() as s:
        assert incident_service.get_incident(s, ref=_fire(db, clock, "iris")).drill_run_id is None
    fresh = _start(db, clock)  # the stale one no longer blocks
    with db.read_session() as s:
        assert drill_service.get_drill(s, run_id=stale).status == ABANDONED
        assert drill_service.get_drill(s, run_id=fresh).status == RUNNING


def test_finishing_twice_or_an_unknown_drill_is_refused(db: Database, clock: FakeClock) -> None:
    run_id = _start(db, clock)
    _finish(db, clock, run_id)
    with pytest.raises(Conflict, match="already finished"):
        _finish(db, clock, run_id)
    with pytest.raises(NotFound, match="no drill #999"):
        _finish(db, clock, 999)
    with db.write_session() as s, pytest.raises(NotFound, match="no drill scenario 'nope'"):
        drill_service.start_drill(
            s,
            drill=DrillStartIn(scenario="nope", model="iris", time_limit_s=5),
            actor="t",
            now=clock.now(),
        )


def test_incidents_opened_during_a_drill_are_marked(db: Database, clock: FakeClock) -> None:
    run_id = _start(db, clock)
    drill_ref = _fire(db, clock, "iris")
    real_ref = _fire(db, clock, "other")  # another model: a real incident
    with db.read_session() as s:
        drill = incident_service.get_incident(s, ref=drill_ref)
        real = incident_service.get_incident(s, ref=real_ref)
        assert drill.title.startswith("[DRILL] ") and drill.drill_run_id == run_id
        assert drill.labels["drill"] == "model-down"
        assert real.drill_run_id is None and "drill" not in real.labels
        assert not real.title.startswith("[DRILL]")
        detected = drill.timeline[0]
        assert detected.kind == "detected" and detected.details["drill"] == run_id


def test_stats_leave_drill_incidents_out_by_default(db: Database, clock: FakeClock) -> None:
    _start(db, clock)
    _fire(db, clock, "iris")
    _fire(db, clock, "other")
    clock.advance(timedelta(minutes=1))
    with db.read_session() as s:
        real = incident_queries.incident_stats(s, now=clock.now())
        everything = incident_queries.incident_stats(s, now=clock.now(), include_drills=True)
    assert (real.count, everything.count) == (1, 2)
    assert real.by_severity["SEV1"].count == 1


async def test_drill_incidents_stay_out_of_the_open_incidents_gauge(
    db: Database, clock: FakeClock
) -> None:
    """A dashboard alerting on open SEV1 incidents must not fire for a game day."""
    _start(db, clock)
    _fire(db, clock, "iris")  # iris is being drilled: its incident is a drill's
    _fire(db, clock, "other")
    async with api_client(db, clock) as (client, _runtime):
        metrics = (await client.get("/metrics")).text
    assert 'firewatch_incidents_open{severity="SEV1"} 1.0' in metrics
    assert "firewatch_drill_incidents_open 1.0" in metrics
