"""MTTA / MTTR / SLA compliance on a fake clock, against hand-computed values."""

from __future__ import annotations

from datetime import timedelta

from firewatch.clock import FakeClock
from firewatch.incidents import queries as incident_queries
from firewatch.incidents import service as svc
from firewatch.incidents.lifecycle import Status
from firewatch.severity import DEFAULT_POLICY, Severity
from firewatch.store.db import Database

ALICE = svc.Actor("alice")


def test_stats_match_hand_computed_values(db: Database, clock: FakeClock) -> None:
    start = clock.now()
    # A: SEV1 acked after 2 min, resolved after 20 min (within 30-min target).
    # B: SEV1 acked after 8 min (response breached), resolved after 40 min (breached).
    # C: SEV2 acked after 10 min, still open at the end (not overdue: excluded from resolution SLA).
    plan = [
        ("a", Severity.SEV1, 2, 20),
        ("b", Severity.SEV1, 8, 40),
        ("c", Severity.SEV2, 10, None),
    ]
    refs = {}
    with db.write_session() as s:
        for name, severity, _, _ in plan:
            row = svc.open_incident(
                s,
                title=name,
                severity=severity,
                now=start,
                policy=DEFAULT_POLICY,
                actor=svc.SYSTEM,
                model=name,
                group_key=name,
            )
            refs[name] = row.display_id
    events = sorted(
        [(ack, name, "ack") for name, _, ack, _ in plan]
        + [(res, name, "resolve") for name, _, _, res in plan if res is not None]
    )
    for minute, name, what in events:
        clock.set(start + timedelta(minutes=minute))
        with db.write_session() as s:
            row = svc.get_incident(s, ref=refs[name])
            if what == "ack":
                svc.acknowledge(s, incident=row, actor=ALICE, now=clock.now())
            else:
                svc.transition(s, incident=row, to=Status.RESOLVED, actor=ALICE, now=clock.now())
    clock.set(start + timedelta(minutes=45))
    with db.read_session() as s:
        stats = incident_queries.incident_stats(s, now=clock.now())
    assert stats.count == 3 and stats.open == 1
    assert stats.mtta_minutes == round((2 + 8 + 10) / 3, 2)
    assert stats.mttr_minutes == (20 + 40) / 2
    assert stats.response_sla_met == round(2 / 3, 4)  # B responded after its 5-min deadline
    assert stats.resolution_sla_met == 0.5  # A in time, B late; C still inside its 2 h
    sev1 = stats.by_severity["SEV1"]
    assert (sev1.count, sev1.mtta_minutes, sev1.mttr_minutes) == (2, 5.0, 30.0)
    assert stats.by_severity["SEV4"].count == 0
    with db.read_session() as s:
        later = incident_queries.incident_stats(
            s, now=clock.now(), since=start + timedelta(seconds=1)
        )
    assert later.count == 0
