"""Escalation on a fake clock, through the real event log, job table and writer: the seed's SEV1
policy pages on-call at once and every 5 minutes until acknowledged, the manager at 10 minutes
and the director at 20 while the incident stays unresolved; a restart changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from firewatch.clock import FakeClock
from firewatch.config import Intent, NotifyConfig
from firewatch.incidents import service as incident_service
from firewatch.incidents.lifecycle import Status
from firewatch.incidents.models import IncidentRow, TimelineEntryRow
from firewatch.incidents.service import Actor, open_incident
from firewatch.notify.escalation import LEVEL_JOB, EscalationEngine
from firewatch.notify.policy import EscalationConfig
from firewatch.notify.worker import DELIVER_JOB
from firewatch.severity import DEFAULT_POLICY, Severity
from firewatch.store.db import Database
from firewatch.store.events import read_events
from firewatch.store.jobs import JobRow
from firewatch.store.runner import JobKind, JobRunner
from firewatch.store.writer import Writer

NOTIFY = NotifyConfig(channels_for={Intent.PAGE: ["pager"], Intent.CHAT: [], Intent.EMAIL: []})


class Harness:
    """The escalation consumer and its jobs as `firewatch.app.Runtime` wires them; deliveries
    are left in the job table, where the test reads who was paged."""

    def __init__(self, db: Database, clock: FakeClock) -> None:
        self.db, self.clock = db, clock
        self.start()
        self.cursor = 0

    def start(self) -> None:
        self.writer = Writer(self.db)
        self.writer.start()
        self.engine = EscalationEngine(EscalationConfig(), NOTIFY, self.writer, self.clock)
        self.runner = JobRunner(
            db=self.db,
            writer=self.writer,
            clock=self.clock,
            kinds={LEVEL_JOB: JobKind(self.engine.fire)},
        )

    def restart(self) -> None:
        self.writer.stop()
        self.start()

    def consume(self) -> None:
        with self.db.write_session() as s:
            for event in read_events(s, after=self.cursor, types=self.engine.types):
                self.engine.on_event(s, event)
                self.cursor = event.id

    async def at_minute(self, minute: float) -> None:
        """Move the clock to ``minute`` after the start, firing every timer due on the way."""
        target = self.start_at + timedelta(minutes=minute)
        while True:
            self.consume()
            due = self._next_due()
            if due is None or due > target:
                break
            self.clock.set(max(due, self.clock.now()))
            await self.runner.run_once()
        self.clock.set(target)
        self.consume()

    def _next_due(self) -> datetime | None:
        with self.db.read_session() as s:
            rows = s.scalars(
                select(JobRow.due_at).where(JobRow.kind == LEVEL_JOB, JobRow.status == "pending")
            ).all()
        return min(rows, default=None)

    def open(self, severity: Severity = Severity.SEV1) -> int:
        self.start_at = self.clock.now()
        with self.db.write_session() as s:
            row = open_incident(
                s,
                title="iris is down",
                severity=severity,
                now=self.clock.now(),
                policy=DEFAULT_POLICY,
                actor=Actor("alertmanager", human=False),
                model="iris",
            )
            return row.id

    def pages(self) -> list[tuple[int, str]]:
        """(minute, target) of every page delivery enqueued."""
        with self.db.read_session() as s:
            jobs = s.scalars(select(JobRow).where(JobRow.kind == DELIVER_JOB)).all()
            return sorted(
                (round((j.created_at - self.start_at).total_seconds() / 60), j.payload["target"])
                for j in jobs
            )

    def do(self, incident_id: int, what: str) -> None:
        with self.db.write_session() as s:
            row = s.get(IncidentRow, incident_id)
            assert row is not None
            actor, now = Actor("alice"), self.clock.now()
            if what == "ack":
                incident_service.acknowledge(s, incident=row, actor=actor, now=now)
            elif what == "resolve":
                incident_service.transition(
                    s, incident=row, to=Status.RESOLVED, actor=actor, now=now, note="fixed"
                )
            else:
                incident_service.escalate(s, incident=row, reason=what, actor=actor, now=now)


@pytest.fixture
def harness(sqlite_db: Database, clock: FakeClock) -> Iterator[Harness]:
    h = Harness(sqlite_db, clock)
    yield h
    h.writer.stop()


async def test_the_seed_sev1_policy_with_an_ack_at_5_and_a_resolution_at_15(
    harness: Harness,
) -> None:
    incident = harness.open()
    await harness.at_minute(0)
    assert harness.pages() == [(0, "on-call")]

    await harness.at_minute(4)
    assert harness.pages() == [(0, "on-call")]
    await harness.at_minute(5)  # not acknowledged: on-call again
    assert harness.pages() == [(0, "on-call"), (5, "on-call")]

    harness.do(incident, "ack")  # at 5 min: stops the on-call repeats only
    harness.restart()  # a restart in between changes nothing
    await harness.at_minute(10)
    assert harness.pages() == [(0, "on-call"), (5, "on-call"), (10, "manager")]

    await harness.at_minute(15)
    harness.do(incident, "resolve")  # stops the director's page
    await harness.at_minute(60)
    assert harness.pages() == [(0, "on-call"), (5, "on-call"), (10, "manager")]


async def test_unacknowledged_and_broken_pages_everyone_on_time(harness: Harness) -> None:
    harness.open()
    await harness.at_minute(21)
    assert harness.pages() == [
        (0, "on-call"),
        (5, "on-call"),
        (10, "manager"),
        (10, "on-call"),
        (15, "on-call"),
        (20, "director"),
        (20, "on-call"),
    ]
    with harness.db.read_session() as s:
        escalated = s.scalars(
            select(TimelineEntryRow.event).where(TimelineEntryRow.kind == "escalated")
        ).all()
    assert any("Paged manager — level 2 of 3 (sev1): still unresolved" in e for e in escalated)


async def test_asking_to_escalate_fires_the_next_level_now_and_only_once(
    harness: Harness,
) -> None:
    incident = harness.open()
    await harness.at_minute(1)
    harness.do(incident, "rollback failed")  # a runbook's escalate step, or a person
    await harness.at_minute(2)
    assert harness.pages() == [(0, "on-call"), (1, "manager")]
    await harness.at_minute(10)  # the manager's level already fired: not paged twice
    assert [p for p in harness.pages() if p[1] == "manager"] == [(1, "manager")]


async def test_sev3_does_not_escalate_and_asking_says_so(harness: Harness) -> None:
    incident = harness.open(Severity.SEV3)
    harness.do(incident, "help")
    await harness.at_minute(120)
    assert harness.pages() == []
    with harness.db.read_session() as s:
        notes = s.scalars(
            select(TimelineEntryRow.event).where(TimelineEntryRow.kind == "note")
        ).all()
    assert any("SEV3 has no escalation policy" in n for n in notes)


async def test_status_updates_are_due_every_15_minutes_and_remind_the_commander(
    sqlite_db: Database, clock: FakeClock
) -> None:
    from firewatch.comms.cadence import REMINDER_JOB, Cadence
    from firewatch.comms.settings import CommsConfig

    writer = Writer(sqlite_db)
    writer.start()
    try:
        notify = NotifyConfig(channels_for={Intent.CHAT: ["chat"]})
        cadence = Cadence(CommsConfig(), notify, writer, clock)
        runner = JobRunner(
            db=sqlite_db, writer=writer, clock=clock, kinds={REMINDER_JOB: JobKind(cadence.check)}
        )
        start = clock.now()
        with sqlite_db.write_session() as s:
            row = open_incident(
                s,
                title="iris is down",
                severity=Severity.SEV2,
                now=start,
                policy=DEFAULT_POLICY,
                actor=Actor("alice"),
                model="iris",
            )
            incident_id = row.id
            for event in read_events(s, after=0, types=cadence.types):
                cadence.on_event(s, event)

        def reminders() -> list[str]:
            with sqlite_db.read_session() as s:
                jobs = s.scalars(select(JobRow).where(JobRow.kind == DELIVER_JOB)).all()
                return [str(j.payload["headline"]) for j in jobs]

        clock.set(start + timedelta(minutes=14))
        await runner.run_once()
        assert reminders() == []
        clock.set(start + timedelta(minutes=15))
        await runner.run_once()
        assert len(reminders()) == 1
        assert "status update for INC-" in reminders()[0]
        assert "firewatch incident update INC-" in reminders()[0]

        clock.set(start + timedelta(minutes=20))  # an update at 20 min: the next is due at 35
        with sqlite_db.write_session() as s:
            found = s.get(IncidentRow, incident_id)
            assert found is not None
            incident_service.post_status_update(
                s,
                incident=found,
                text="Rolled back; watching",
                actor=Actor("alice"),
                now=clock.now(),
            )
        clock.set(start + timedelta(minutes=30))
        await runner.run_once()
        assert len(reminders()) == 1
        clock.set(start + timedelta(minutes=35))
        await runner.run_once()
        assert len(reminders()) == 2
    finally:
        writer.stop()


async def test_a_schedule_target_pages_whoever_is_on_call_when_the_level_fires(
    sqlite_db: Database, clock: FakeClock
) -> None:
    from firewatch.notify.escalation import oncall_targets
    from firewatch.notify.policy import EscalationLevel, EscalationPolicy, EscalationTarget
    from firewatch.oncall.schedules import OncallConfig
    from firewatch.people import service as people_service
    from firewatch.people.schemas import PersonIn

    oncall = OncallConfig.model_validate(
        {
            "schedules": [
                {
                    "name": "ml-primary",
                    "time_zone": "UTC",
                    "rotation": {
                        "type": "daily",
                        "handoff": "09:00",
                        "start": "2026-01-01",
                        "participants": ["alice", "bob"],
                    },
                }
            ]
        }
    )
    with sqlite_db.write_session() as s:
        for handle in ("alice", "bob"):
            people_service.upsert_person(s, person=PersonIn(handle=handle), now=clock.now())
    policy = EscalationConfig(
        policies=[
            EscalationPolicy(
                name="p",
                levels=[
                    EscalationLevel(
                        targets=[EscalationTarget(schedule="ml-primary")],
                        repeat_every=timedelta(hours=24),
                        repeats=1,
                    )
                ],
            )
        ],
        by_severity={Severity.SEV1: "p"},
    )
    h = Harness(sqlite_db, clock)
    try:
        h.engine = EscalationEngine(policy, NOTIFY, h.writer, clock, resolve=oncall_targets(oncall))
        h.runner.kinds[LEVEL_JOB] = JobKind(h.engine.fire)
        h.open()
        await h.at_minute(0)
        await h.at_minute(24 * 60)  # a day later: the other participant
        targets = [target for _, target in h.pages()]
        assert sorted(targets) == ["alice", "bob"]
    finally:
        h.writer.stop()
