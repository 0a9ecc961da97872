"""Incident commands on SQLite and PostgreSQL: ids, acknowledgement, severity rules, SLA clocks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from firewatch.clock import FakeClock
from firewatch.errors import Conflict, InvalidInput, NotFound
from firewatch.incidents import queries as incident_queries
from firewatch.incidents import service as svc
from firewatch.incidents.lifecycle import Status
from firewatch.incidents.models import IncidentRow
from firewatch.incidents.schemas import IncidentOut, Role
from firewatch.people import service as people_service
from firewatch.people.schemas import PersonIn
from firewatch.severity import DEFAULT_POLICY, Severity
from firewatch.store import events as event_log
from firewatch.store.db import Database

ALICE = svc.Actor("alice")


def open_one(session: Session, clock: FakeClock, **kwargs: object) -> IncidentRow:
    defaults: dict[str, object] = {
        "title": "Model down",
        "severity": Severity.SEV1,
        "now": clock.now(),
        "policy": DEFAULT_POLICY,
        "actor": svc.SYSTEM,
        "model": "iris",
        "group_key": "model=iris",
        "source": "probe",
    }
    return svc.open_incident(session, **{**defaults, **kwargs})  # type: ignore[arg-type]


def full(db: Database, ref: str, clock: FakeClock) -> IncidentOut:
    with db.read_session() as session:
        row = svc.get_incident(session, ref=ref)
        return incident_queries.incident_of(
            incident_queries.load_incident(session, incident_id=row.id), clock.now()
        )


def test_ids_are_sequential_per_year_with_three_digits(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        ids = [open_one(s, clock, group_key=None).display_id for _ in range(3)]
    assert ids == ["INC-2026-001", "INC-2026-002", "INC-2026-003"]
    clock.set(clock.now().replace(year=2027, month=1, day=1))
    with db.write_session() as s:
        assert open_one(s, clock, group_key=None).display_id == "INC-2027-001"


def test_ids_keep_growing_past_three_digits(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        for _ in range(1000):
            svc.next_incident_number(s, year=2026)
        assert open_one(s, clock).display_id == "INC-2026-1001"


def test_opening_writes_timeline_and_event_in_the_same_transaction(
    db: Database, clock: FakeClock
) -> None:
    with db.write_session() as s:
        row = open_one(s, clock)
    with db.read_session() as s:
        events = event_log.read_events(s, after=0)
    assert [e.type for e in events] == ["incident.opened"]
    assert events[0].payload["incident"] == row.display_id
    assert events[0].incident_id == row.id
    assert full(db, row.display_id, clock).timeline[0].kind == "detected"


def test_failed_change_leaves_nothing_behind(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        ref = open_one(s, clock).display_id
    with (
        pytest.raises(Conflict, match="allowed from triggered: acknowledged, investigating"),
        db.write_session() as s,
    ):
        svc.transition(
            s, incident=svc.get_incident(s, ref=ref), to=Status.CLOSED, actor=ALICE, now=clock.now()
        )
    with db.read_session() as s:
        assert len(event_log.read_events(s, after=0)) == 1
    assert full(db, ref, clock).status == "triggered"


def test_unknown_and_malformed_ids_are_404(db: Database) -> None:
    with db.read_session() as s:
        with pytest.raises(NotFound, match="no incident INC-2026-999"):
            svc.get_incident(s, ref="inc-2026-999")
        with pytest.raises(NotFound, match="ids look like INC-2026-001"):
            svc.get_incident(s, ref="banana")


def test_ack_from_triggered_and_later(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        people_service.upsert_person(
            s, person=PersonIn(handle="alice", name="Alice"), now=clock.now()
        )
        first = open_one(s, clock).display_id
        second = open_one(s, clock, model="b", group_key="model=b").display_id
    clock.advance(minutes=3)
    with db.write_session() as s:
        svc.acknowledge(s, incident=svc.get_incident(s, ref=first), actor=ALICE, now=clock.now())
        row = svc.get_incident(s, ref=second)
        svc.transition(s, incident=row, to=Status.MITIGATED, actor=svc.SYSTEM, now=clock.now())
        svc.acknowledge(s, incident=row, actor=ALICE, now=clock.now())
    one, two = full(db, first, clock), full(db, second, clock)
    assert one.status == "acknowledged"
    assert two.status == "mitigated"  # acknowledging does not undo a mitigation
    assert one.acknowledged_at == two.acknowledged_at == clock.now()
    with pytest.raises(Conflict, match="already acknowledged"), db.write_session() as s:
        svc.acknowledge(s, incident=svc.get_incident(s, ref=first), actor=ALICE, now=clock.now())


def test_automation_does_not_acknowledge(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        row = open_one(s, clock)
        svc.transition(s, incident=row, to=Status.INVESTIGATING, actor=svc.SYSTEM, now=clock.now())
        ref = row.display_id
    assert full(db, ref, clock).acknowledged_at is None


def test_lowering_severity_needs_a_reason(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        ref = open_one(s, clock, severity=Severity.SEV2).display_id
    with db.write_session() as s:
        svc.set_severity(
            s,
            incident=svc.get_incident(s, ref=ref),
            severity=Severity.SEV1,
            actor=ALICE,
            now=clock.now(),
            policy=DEFAULT_POLICY,
        )
    with pytest.raises(InvalidInput, match="needs a reason"), db.write_session() as s:
        svc.set_severity(
            s,
            incident=svc.get_incident(s, ref=ref),
            severity=Severity.SEV3,
            actor=ALICE,
            now=clock.now(),
            policy=DEFAULT_POLICY,
        )
    with db.write_session() as s:
        svc.set_severity(
            s,
            incident=svc.get_incident(s, ref=ref),
            severity=Severity.SEV3,
            actor=ALICE,
            now=clock.now(),
            policy=DEFAULT_POLICY,
            reason="only a canary is affected",
        )
    incident = full(db, ref, clock)
    changes = [e for e in incident.timeline if e.kind == "severity_changed"]
    assert [c.details["direction"] for c in changes] == ["raised", "lowered"]
    assert changes[1].details["reason"] == "only a canary is affected"
    assert incident.sla.resolution_due_at == incident.timestamp + timedelta(days=1)


def test_sla_breach_flags(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        ref = open_one(s, clock).display_id
    assert not full(db, ref, clock).sla.breached
    clock.advance(minutes=6)
    sla = full(db, ref, clock).sla
    assert sla.response_breached and not sla.resolution_breached and sla.breached
    clock.advance(minutes=25)
    assert full(db, ref, clock).sla.resolution_breached


def test_one_open_incident_per_group_enforced_by_the_database(
    db: Database, clock: FakeClock
) -> None:
    with db.write_session() as s:
        open_one(s, clock)
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"), db.write_session() as s:
        open_one(s, clock)


def test_reopen_is_refused_while_another_incident_holds_the_group(
    db: Database, clock: FakeClock
) -> None:
    with db.write_session() as s:
        old = open_one(s, clock)
        svc.transition(s, incident=old, to=Status.RESOLVED, actor=ALICE, now=clock.now())
        open_one(s, clock)
        with pytest.raises(Conflict, match="is already open"):
            svc.transition(s, incident=old, to=Status.INVESTIGATING, actor=ALICE, now=clock.now())


def test_assign_owner_and_roles_refer_to_people(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        people_service.upsert_person(
            s,
            person=PersonIn(handle="john_doe", name="John Doe", email="john@example.com"),
            now=clock.now(),
        )
        row = open_one(s, clock)
        svc.assign(s, incident=row, person="john_doe", actor=ALICE, now=clock.now())
        svc.assign(
            s, incident=row, person="john_doe", role=Role.COMMANDER, actor=ALICE, now=clock.now()
        )
        with pytest.raises(NotFound, match="no person with handle 'nobody'"):
            svc.assign(s, incident=row, person="nobody", actor=ALICE, now=clock.now())
        ref = row.display_id
    incident = full(db, ref, clock)
    assert incident.assigned_to == "john_doe"
    assert incident.assignee is not None and incident.assignee.email == "john@example.com"
    assert incident.roles["commander"].handle == "john_doe"


def test_root_cause_and_resolution_time(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        ref = open_one(s, clock).display_id
    clock.advance(minutes=50)
    with db.write_session() as s:
        row = svc.get_incident(s, ref=ref)
        svc.update_record(s, incident=row, actor=ALICE, now=clock.now(), root_cause="data drift")
        svc.transition(
            s,
            incident=row,
            to=Status.RESOLVED,
            actor=ALICE,
            now=clock.now(),
            resolution="Rolled back to v1.1.0",
        )
    incident = full(db, ref, clock)
    assert incident.root_cause == "data drift"
    assert incident.resolution == "Rolled back to v1.1.0"
    assert incident.resolution_time_minutes == 50
    assert "root_cause_identified" in [e.kind for e in incident.timeline]
