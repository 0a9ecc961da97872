"""Alerts to incidents: dedup, one open incident per model, severity only rises, auto-resolve."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta

import hypothesis.strategies as st
from hypothesis import given, settings
from sqlalchemy import func, select

from firewatch.alerts import pipeline
from firewatch.alerts import service as alerts
from firewatch.alerts.fingerprint import fingerprint
from firewatch.alerts.models import AlertRow
from firewatch.alerts.schemas import Alert, AlertStatus
from firewatch.clock import FakeClock
from firewatch.incidents.models import IncidentRow
from firewatch.schema import metadata
from firewatch.severity import DEFAULT_POLICY, Severity, Signals
from firewatch.store.db import Database
from firewatch.store.jobs import JobRow

POLICY = pipeline.AlertPolicy(severity=DEFAULT_POLICY, resolve_quiet_period=timedelta(seconds=10))


def alert(
    name: str = "ModelUnavailable",
    model: str = "iris",
    *,
    status: AlertStatus = AlertStatus.FIRING,
    severity: str = "SEV1",
    at: datetime,
    signals: Signals | None = None,
) -> Alert:
    return Alert(
        labels={"alertname": name, "model": model, "severity": severity, "source": "test"},
        status=status,
        starts_at=at,
        ends_at=at if status is AlertStatus.RESOLVED else None,
        signals=signals or Signals(),
    )


def process(db: Database, clock: FakeClock, *batch: Alert) -> list[pipeline.ProcessResult]:
    with db.write_session() as s:
        return pipeline.process_alerts(s, alerts=list(batch), now=clock.now(), policy=POLICY)


def test_fingerprint_matches_alertmanager_and_ignores_order() -> None:
    # FNV-1a 64 of the empty label set is the offset basis, as in Alertmanager's model package.
    assert fingerprint({}) == "cbf29ce484222325"
    assert fingerprint({"a": "1", "b": "2"}) == fingerprint({"b": "2", "a": "1"})
    assert fingerprint({"a": "1"}) != fingerprint({"a": "2"})


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=8))
def test_fingerprint_is_stable_under_label_order(labels: dict[str, str]) -> None:
    assert fingerprint(dict(reversed(list(labels.items())))) == fingerprint(labels)
    assert len(fingerprint(labels)) == 16


def test_repeated_failures_update_never_duplicate(sqlite_db: Database, clock: FakeClock) -> None:
    first = process(sqlite_db, clock, alert(at=clock.now()))
    again = process(sqlite_db, clock, alert(at=clock.now()), alert(at=clock.now()))
    assert [r.outcome for r in first + again] == ["opened", "updated"]  # one result per alert
    other = process(sqlite_db, clock, alert("AccuracyLow", severity="SEV2", at=clock.now()))
    assert other[0].outcome == "attached" and other[0].incident == first[0].incident
    elsewhere = process(sqlite_db, clock, alert(model="wine", at=clock.now()))
    assert elsewhere[0].outcome == "opened" and elsewhere[0].incident != first[0].incident


def test_severity_rises_with_a_worse_alert(sqlite_db: Database, clock: FakeClock) -> None:
    opened = process(
        sqlite_db,
        clock,
        alert("HighErrorRate", severity="HIGH", at=clock.now(), signals=Signals(failure_rate=0.06)),
    )
    with sqlite_db.read_session() as s:
        assert s.scalar(select(IncidentRow.severity)) == "SEV2"
    process(
        sqlite_db,
        clock,
        alert("HighErrorRate", severity="HIGH", at=clock.now(), signals=Signals(failure_rate=0.8)),
    )
    process(sqlite_db, clock, alert("SlowResponses", severity="SEV3", at=clock.now()))
    with sqlite_db.read_session() as s:
        assert s.scalar(select(IncidentRow.severity)) == "SEV1"
    assert opened[0].outcome == "opened"


def test_clearing_every_alert_schedules_resolve_after_quiet_period(
    sqlite_db: Database, clock: FakeClock
) -> None:
    ref = process(sqlite_db, clock, alert(at=clock.now()), alert("AccuracyLow", at=clock.now()))[
        0
    ].incident
    process(sqlite_db, clock, alert(status=AlertStatus.RESOLVED, at=clock.now()))
    with sqlite_db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(JobRow)) == 0  # one alert still firing
    process(sqlite_db, clock, alert("AccuracyLow", status=AlertStatus.RESOLVED, at=clock.now()))
    with sqlite_db.read_session() as s:
        job = s.scalars(select(JobRow)).one()
        incident_id = s.scalar(select(IncidentRow.id))
    assert job.kind == pipeline.AUTO_RESOLVE_JOB and job.due_at == clock.now() + timedelta(
        seconds=10
    )
    assert incident_id is not None
    clock.advance(seconds=5)
    with sqlite_db.write_session() as s:
        assert not alerts.auto_resolve(
            s, incident_id=incident_id, quiet_period=timedelta(seconds=10), now=clock.now()
        )
    clock.advance(seconds=5)
    with sqlite_db.write_session() as s:
        assert alerts.auto_resolve(
            s, incident_id=incident_id, quiet_period=timedelta(seconds=10), now=clock.now()
        )
    with sqlite_db.read_session() as s:
        row = s.scalars(select(IncidentRow)).one()
    assert (row.display_id, row.status) == (ref, "resolved")
    assert row.resolution == "All alerts cleared and stayed clear for 10s"


def test_a_runbook_still_working_holds_the_resolve_for_a_while(
    sqlite_db: Database, clock: FakeClock
) -> None:
    """Alerts clear while the runbook is still verifying its rollback: the incident waits for
    it (verified → mitigated → resolved), but not for ever."""
    process(sqlite_db, clock, alert(at=clock.now()))
    process(sqlite_db, clock, alert(status=AlertStatus.RESOLVED, at=clock.now()))
    quiet = timedelta(seconds=10)
    clock.advance(seconds=11)
    with sqlite_db.write_session() as s:
        incident_id = s.scalar(select(IncidentRow.id))
        assert incident_id is not None

        def resolve(busy: bool) -> bool:
            return alerts.auto_resolve(
                s,
                incident_id=incident_id,
                quiet_period=quiet,
                now=clock.now(),
                runbook_running=busy,
            )

        assert not resolve(busy=True)
        clock.advance(alerts.RUNBOOK_HOLD)
        assert resolve(busy=True)  # held long enough: a stuck run does not keep it open
    process(sqlite_db, clock, alert(at=clock.now()))
    process(sqlite_db, clock, alert(status=AlertStatus.RESOLVED, at=clock.now()))
    clock.advance(seconds=11)
    with sqlite_db.write_session() as s:
        second = s.scalars(select(IncidentRow.id).order_by(IncidentRow.id.desc())).first()
        assert second is not None and second != incident_id
        assert alerts.auto_resolve(
            s, incident_id=second, quiet_period=quiet, now=clock.now(), runbook_running=False
        )


def test_refiring_within_quiet_period_keeps_the_incident(
    sqlite_db: Database, clock: FakeClock
) -> None:
    ref = process(sqlite_db, clock, alert(at=clock.now()))[0].incident
    process(sqlite_db, clock, alert(status=AlertStatus.RESOLVED, at=clock.now()))
    clock.advance(seconds=3)
    again = process(sqlite_db, clock, alert(at=clock.now()))
    assert again[0].outcome == "attached" and again[0].incident == ref
    clock.advance(seconds=20)
    with sqlite_db.write_session() as s:
        incident_id = s.scalar(select(IncidentRow.id))
        assert incident_id is not None
        assert not alerts.auto_resolve(
            s, incident_id=incident_id, quiet_period=timedelta(seconds=10), now=clock.now()
        )


def test_after_resolve_a_new_alert_opens_a_new_incident(
    sqlite_db: Database, clock: FakeClock
) -> None:
    first = process(sqlite_db, clock, alert(at=clock.now()))[0].incident
    process(sqlite_db, clock, alert(status=AlertStatus.RESOLVED, at=clock.now()))
    clock.advance(minutes=1)
    with sqlite_db.write_session() as s:
        incident_id = s.scalar(select(IncidentRow.id))
        assert incident_id is not None
        alerts.auto_resolve(
            s, incident_id=incident_id, quiet_period=timedelta(seconds=10), now=clock.now()
        )
    second = process(sqlite_db, clock, alert(at=clock.now()))[0]
    assert second.outcome == "opened" and second.incident != first


def test_unknown_resolved_alert_is_ignored(sqlite_db: Database, clock: FakeClock) -> None:
    assert (
        process(sqlite_db, clock, alert(status=AlertStatus.RESOLVED, at=clock.now()))[0].outcome
        == "ignored"
    )


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["iris", "wine"]), st.sampled_from(["A", "B", "C"]), st.booleans()
        ),
        max_size=25,
    )
)
def test_no_sequence_opens_two_incidents_for_one_open_group(
    steps: list[tuple[str, str, bool]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/p.db")
        metadata.create_all(db.write_engine)
        clock = FakeClock()
        for model, name, firing in steps:
            status = AlertStatus.FIRING if firing else AlertStatus.RESOLVED
            process(db, clock, alert(name, model, status=status, at=clock.now()))
            clock.advance(seconds=1)
            with db.read_session() as s:
                open_per_group = s.execute(
                    select(IncidentRow.group_key, func.count())
                    .where(
                        IncidentRow.status.in_(
                            ["triggered", "acknowledged", "investigating", "mitigated"]
                        )
                    )
                    .group_by(IncidentRow.group_key)
                ).all()
            assert all(count == 1 for _, count in open_per_group)
        db.dispose()


def test_severity_label_aliases_are_normalised() -> None:
    a = Alert(
        labels={"alertname": "X", "source": "t", "severity": "critical"},
        starts_at=FakeClock().now(),
    )
    assert a.severity is Severity.SEV1


def test_cleared_alerts_are_pruned_after_retention(sqlite_db: Database, clock: FakeClock) -> None:
    process(sqlite_db, clock, alert(at=clock.now()), alert("Other", at=clock.now()))
    process(sqlite_db, clock, alert(status=AlertStatus.RESOLVED, at=clock.now()))
    clock.advance(days=31)
    with sqlite_db.write_session() as s:
        assert alerts.prune_cleared_alerts(s, before=clock.now() - timedelta(days=30)) == 1
    with sqlite_db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(AlertRow)) == 1  # the firing one stays
