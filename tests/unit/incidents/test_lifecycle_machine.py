"""Hypothesis state machine: any sequence of commands keeps the incident record consistent."""

from __future__ import annotations

import tempfile
from datetime import timedelta

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from firewatch.clock import FakeClock
from firewatch.errors import Conflict, InvalidInput
from firewatch.incidents import service as svc
from firewatch.incidents.lifecycle import TRANSITIONS, Status
from firewatch.incidents.models import IncidentRow, TimelineEntryRow
from firewatch.schema import metadata
from firewatch.severity import DEFAULT_POLICY, Severity
from firewatch.store import events as event_log
from firewatch.store.db import Database

actors = st.sampled_from([svc.Actor("alice"), svc.Actor("bob"), svc.SYSTEM])


class IncidentLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        self.db = Database(f"sqlite:///{self.tmp.name}/machine.db")
        metadata.create_all(self.db.write_engine)
        self.clock = FakeClock()
        with self.db.write_session() as s:
            row = svc.open_incident(
                s,
                title="t",
                severity=Severity.SEV2,
                now=self.clock.now(),
                policy=DEFAULT_POLICY,
                actor=svc.SYSTEM,
                model="m",
                group_key="model=m",
                source="probe",
            )
            self.ref = row.display_id
        self.status = Status.TRIGGERED
        self.acked = False
        self.changes = 1

    def teardown(self) -> None:
        self.db.dispose()
        self.tmp.cleanup()

    @rule(to=st.sampled_from(list(Status)), actor=actors, minutes=st.integers(0, 90))
    def move(self, to: Status, actor: svc.Actor, minutes: int) -> None:
        target = to
        self.clock.advance(minutes=minutes)
        allowed = target in TRANSITIONS[self.status]
        try:
            with self.db.write_session() as s:
                svc.transition(
                    s,
                    incident=svc.get_incident(s, ref=self.ref),
                    to=target,
                    actor=actor,
                    now=self.clock.now(),
                )
        except Conflict as exc:
            assert not allowed
            assert exc.details["allowed"] == [t.value for t in TRANSITIONS[self.status]]
            return
        assert allowed
        if target is Status.ACKNOWLEDGED or (
            actor.human and target is Status.INVESTIGATING and self.status is Status.TRIGGERED
        ):
            self.acked = True
        self.status = target
        self.changes += 1

    @rule(actor=actors)
    def acknowledge(self, actor: svc.Actor) -> None:
        can = self.status.is_open and not self.acked
        try:
            with self.db.write_session() as s:
                svc.acknowledge(
                    s, incident=svc.get_incident(s, ref=self.ref), actor=actor, now=self.clock.now()
                )
        except Conflict:
            assert not can
            return
        assert can
        self.acked = True
        if self.status is Status.TRIGGERED:
            self.status = Status.ACKNOWLEDGED
        self.changes += 1

    @rule(severity=st.sampled_from(list(Severity)), reason=st.sampled_from([None, "checked"]))
    def set_severity(self, severity: Severity, reason: str | None) -> None:
        with self.db.read_session() as s:
            current = Severity(svc.get_incident(s, ref=self.ref).severity)
        try:
            with self.db.write_session() as s:
                svc.set_severity(
                    s,
                    incident=svc.get_incident(s, ref=self.ref),
                    severity=severity,
                    actor=svc.Actor("alice"),
                    now=self.clock.now(),
                    policy=DEFAULT_POLICY,
                    reason=reason,
                )
        except InvalidInput:
            assert current.is_higher_than(severity) and reason is None
            return
        except Conflict:
            assert self.status is Status.CLOSED
            return
        if severity is not current:
            self.changes += 1

    @invariant()
    def record_is_consistent(self) -> None:
        with self.db.read_session() as s:
            row = svc.get_incident(s, ref=self.ref)
            entries = s.query(TimelineEntryRow).filter_by(incident_id=row.id).count()
            events = len(event_log.read_events(s, after=0, limit=10_000))
            assert isinstance(row, IncidentRow)
            assert row.status == self.status.value
            assert (row.acknowledged_at is not None) == self.acked
            assert (row.resolved_at is not None) == (
                self.status in (Status.RESOLVED, Status.CLOSED)
            )
            assert (row.closed_at is not None) == (self.status is Status.CLOSED)
            assert entries == events == self.changes  # every change: one entry, one event
            assert row.response_due_at - row.opened_at <= timedelta(days=1)


TestIncidentLifecycle = IncidentLifecycle.TestCase
TestIncidentLifecycle.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
