"""Silences, maintenance windows and inhibition: what they suppress, and only that."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from firewatch.alerts import pipeline
from firewatch.alerts import silences as silence_service
from firewatch.alerts.matchers import parse_matcher
from firewatch.alerts.models import AlertRow
from firewatch.alerts.schemas import Alert, AlertStatus
from firewatch.alerts.state import PipelineState
from firewatch.alerts.suppression import MaintenanceWindow
from firewatch.clock import FakeClock
from firewatch.errors import Conflict, InvalidInput
from firewatch.incidents.models import IncidentRow, TimelineEntryRow
from firewatch.severity import DEFAULT_POLICY
from firewatch.store.db import Database

POLICY = pipeline.AlertPolicy(severity=DEFAULT_POLICY)


def alert(
    name: str, model: str, at: datetime, status: AlertStatus = AlertStatus.FIRING, **labels: str
) -> Alert:
    return Alert(
        labels={"alertname": name, "model": model, "severity": "SEV2", "source": "test", **labels},
        starts_at=at,
        status=status,
    )


def run(
    db: Database,
    clock: FakeClock,
    *alerts: Alert,
    state: PipelineState,
    policy: pipeline.AlertPolicy = POLICY,
) -> list[pipeline.ProcessResult]:
    with db.write_session() as s:
        return pipeline.process_alerts(
            s, alerts=list(alerts), now=clock.now(), policy=policy, state=state
        )


def open_incidents(db: Database) -> dict[str | None, str]:
    with db.read_session() as s:
        return {
            m: i
            for i, m in s.execute(
                select(IncidentRow.display_id, IncidentRow.model).where(
                    IncidentRow.status == "triggered"
                )
            )
        }


def test_matchers_follow_alertmanager() -> None:
    assert parse_matcher("model=iris").matches({"model": "iris"})
    assert not parse_matcher("model=iris").matches({"model": "iris2"})
    assert parse_matcher("alertname=~High.*").matches({"alertname": "HighErrorRate"})
    assert not parse_matcher("alertname=~High").matches({"alertname": "HighErrorRate"})  # anchored
    assert parse_matcher("team!=ml").matches({})  # a missing label is the empty string
    assert parse_matcher('env!~"dev|test"').matches({"env": "prod"})
    with pytest.raises(InvalidInput, match="invalid matcher"):
        parse_matcher("no operator")
    with pytest.raises(InvalidInput, match="invalid regular expression"):
        parse_matcher("a=~(")


def test_a_silence_hides_only_what_it_matches(sqlite_db: Database, clock: FakeClock) -> None:
    with sqlite_db.write_session() as s:
        silence = silence_service.create_silence(
            s,
            silence=silence_service.SilenceIn(
                matchers=["model=iris"], duration=timedelta(hours=1), comment="deploying"
            ),
            created_by="alice",
            now=clock.now(),
        )
    state = POLICY.new_state()
    results = run(
        sqlite_db,
        clock,
        alert("AccuracyLow", "iris", clock.now()),
        alert("AccuracyLow", "wine", clock.now()),
        state=state,
    )
    assert [r.outcome for r in results] == ["suppressed", "opened"]
    assert results[0].reason == f"silence:{silence.id}"
    assert set(open_incidents(sqlite_db)) == {"wine"}
    with sqlite_db.read_session() as s:
        kept = s.scalars(select(AlertRow).where(AlertRow.model == "iris")).one()
    assert (kept.status, kept.suppressed_by, kept.incident_id) == (
        "firing",
        f"silence:{silence.id}",
        None,
    )
    # Expired, the silence no longer applies: the still-firing alert opens an incident next time.
    with sqlite_db.write_session() as s:
        silence_service.expire_silence(s, silence_id=silence.id, now=clock.now())
        with pytest.raises(Conflict, match="already expired"):
            silence_service.expire_silence(s, silence_id=silence.id, now=clock.now())
    clock.advance(seconds=1)
    assert (
        run(sqlite_db, clock, alert("AccuracyLow", "iris", clock.now()), state=state)[0].outcome
        == "opened"
    )


def test_silences_that_would_match_everything_or_nothing_are_refused(
    sqlite_db: Database, clock: FakeClock
) -> None:
    with sqlite_db.write_session() as s:
        with pytest.raises(InvalidInput, match="at least one matcher"):
            silence_service.create_silence(
                s,
                silence=silence_service.SilenceIn(
                    matchers=["team!=x"], duration=timedelta(hours=1)
                ),
                created_by="a",
                now=clock.now(),
            )
        with pytest.raises(InvalidInput, match="ends_at or duration"):
            silence_service.create_silence(
                s,
                silence=silence_service.SilenceIn(matchers=["model=a"]),
                created_by="a",
                now=clock.now(),
            )


def test_inhibition_is_per_model_and_lifts_when_the_source_clears(
    sqlite_db: Database, clock: FakeClock
) -> None:
    state = POLICY.new_state()
    down = alert("ModelUnavailable", "iris", clock.now(), severity="SEV1")
    run(sqlite_db, clock, down, state=state)
    results = run(
        sqlite_db,
        clock,
        alert("HighErrorRate", "iris", clock.now()),
        alert("HighErrorRate", "wine", clock.now()),
        state=state,
    )
    assert results[0].outcome == "suppressed" and results[0].reason is not None
    assert results[0].reason.startswith("inhibited:")
    assert results[1].outcome == "opened"  # another model is not inhibited
    # The model comes back but still fails requests: the inhibited alert is processed again.
    clock.advance(seconds=5)
    cleared = run(
        sqlite_db,
        clock,
        Alert(labels=down.labels, starts_at=down.starts_at, status=AlertStatus.RESOLVED),
        state=state,
    )
    assert [r.outcome for r in cleared] == ["resolved", "attached"]
    with sqlite_db.read_session() as s:
        row = s.scalars(
            select(AlertRow).where(AlertRow.alertname == "HighErrorRate", AlertRow.model == "iris")
        ).one()
    assert row.suppressed_by is None and row.incident_id is not None


def test_inhibition_survives_a_restart(sqlite_db: Database, clock: FakeClock) -> None:
    run(
        sqlite_db,
        clock,
        alert("ModelUnavailable", "iris", clock.now()),
        state=POLICY.new_state(),
    )
    fresh = POLICY.new_state()  # a restarted process: warmed from the database
    assert (
        run(sqlite_db, clock, alert("SlowResponses", "iris", clock.now()), state=fresh)[0].outcome
        == "suppressed"
    )


def test_maintenance_windows(sqlite_db: Database, clock: FakeClock) -> None:
    window = MaintenanceWindow.model_validate(
        {
            "name": "retrain",
            "matchers": ["model=iris"],
            "weekly": {"days": ["thu"], "start": "14:00", "end": "16:00", "timezone": "UTC"},
        }
    )
    policy = pipeline.AlertPolicy(severity=DEFAULT_POLICY, maintenance=(window,))
    assert clock.now().strftime("%a %H:%M") == "Thu 14:30"
    result = run(
        sqlite_db,
        clock,
        alert("AccuracyLow", "iris", clock.now()),
        state=policy.new_state(),
        policy=policy,
    )[0]
    assert (result.outcome, result.reason) == ("suppressed", "maintenance:retrain")


def test_weekly_windows_cross_midnight_in_their_time_zone() -> None:
    window = MaintenanceWindow.model_validate(
        {
            "name": "n",
            "matchers": ["model=a"],
            "weekly": {
                "days": ["sun"],
                "start": "23:00",
                "end": "01:00",
                "timezone": "Europe/Berlin",
            },
        }
    )
    # Sunday 23:30 in Berlin (CET, UTC+1) is 22:30 UTC; Monday 00:30 Berlin is 23:30 UTC Sunday.
    assert window.active(datetime(2026, 1, 18, 22, 30, tzinfo=UTC))
    assert window.active(datetime(2026, 1, 18, 23, 30, tzinfo=UTC))
    assert not window.active(datetime(2026, 1, 19, 0, 30, tzinfo=UTC))  # 01:30 Berlin
    with pytest.raises(ValueError, match="either start and end, or weekly"):
        MaintenanceWindow.model_validate({"name": "n", "matchers": ["model=a"]})
    with pytest.raises(ValueError, match="unknown time zone"):
        MaintenanceWindow.model_validate(
            {
                "name": "n",
                "matchers": ["model=a"],
                "weekly": {
                    "days": ["sun"],
                    "start": "1:00",
                    "end": "2:00",
                    "timezone": "Mars/Base",
                },
            }
        )


def test_many_alerts_in_one_batch_make_one_timeline_entry(
    sqlite_db: Database, clock: FakeClock
) -> None:
    state = POLICY.new_state()
    run(sqlite_db, clock, alert("AccuracyLow", "iris", clock.now()), state=state)
    batch = [alert("FeatureDrift", "iris", clock.now(), feature=f"f{i}") for i in range(500)]
    results = run(sqlite_db, clock, *batch, state=state)
    assert {r.outcome for r in results} == {"attached"}
    with sqlite_db.read_session() as s:
        entries = list(
            s.scalars(
                select(TimelineEntryRow.event).where(TimelineEntryRow.kind == "alert_attached")
            )
        )
        incident = s.scalars(select(IncidentRow)).one()
    assert entries == ["500 alerts fired: FeatureDrift ×500"]
    assert [s["alertname"] for s in incident.signals] == [
        "AccuracyLow",
        "FeatureDrift",
    ]  # one per kind


def test_pagerduty_acknowledge_acknowledges_the_incident(
    sqlite_db: Database, clock: FakeClock
) -> None:
    state = POLICY.new_state()
    trigger = Alert(
        labels={
            "alertname": "PagerDutyEvent",
            "model": "iris",
            "source": "pagerduty",
            "severity": "SEV1",
        },
        starts_at=clock.now(),
        dedup_key="k-1",
    )
    opened = run(sqlite_db, clock, trigger, state=state)[0]
    ack = Alert(
        labels=trigger.labels,
        starts_at=clock.now(),
        status=AlertStatus.ACKNOWLEDGED,
        dedup_key="k-1",
    )
    clock.advance(minutes=2)
    assert run(sqlite_db, clock, ack, state=state)[0].outcome == "acknowledged"
    assert run(sqlite_db, clock, ack, state=state)[0].outcome == "acknowledged"  # idempotent
    with sqlite_db.read_session() as s:
        incident = s.scalars(select(IncidentRow)).one()
    assert incident.display_id == opened.incident and incident.status == "acknowledged"
    unknown = Alert(
        labels=trigger.labels,
        starts_at=clock.now(),
        status=AlertStatus.ACKNOWLEDGED,
        dedup_key="nope",
    )
    assert run(sqlite_db, clock, unknown, state=state)[0].outcome == "ignored"
