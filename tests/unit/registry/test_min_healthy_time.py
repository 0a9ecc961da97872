"""Last known good needs a minimum healthy time: a version that was live for seconds has not
proven anything, and the refusal says which versions were considered and why each was not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from firewatch.clock import FakeClock
from firewatch.errors import Conflict
from firewatch.mitigate.rollback import rollback_to_last_good
from firewatch.registry import service as registry
from firewatch.store.db import Database

FIVE_MINUTES = timedelta(minutes=5)


def register(s: Session, clock: FakeClock, *versions: str) -> None:
    for v in versions:
        registry.register_version(s, model="iris", version=v, now=clock.now())


def serve(
    s: Session,
    clock: FakeClock,
    version: str,
    *,
    healthy_after: float | None,
    for_s: float,
    fails_after: float | None = None,
) -> None:
    """Deploy ``version``; a probe sees it healthy after ``healthy_after`` s (and failing after
    ``fails_after`` s); the next deploy comes ``for_s`` s after this one."""
    start = clock.now()
    registry.deploy(s, model="iris", version=version, now=start, actor="ci")
    if healthy_after is not None:
        registry.record_health(
            s, model="iris", healthy=True, at=start + timedelta(seconds=healthy_after)
        )
    if fails_after is not None:
        registry.record_health(
            s, model="iris", healthy=False, at=start + timedelta(seconds=fails_after)
        )
    clock.advance(seconds=for_s)


def lkg(s: Session, minimum: timedelta, clock: FakeClock) -> str | None:
    model_id = registry.get_model(s, name="iris").id
    good = registry.last_known_good(s, model_id=model_id, min_healthy_time=minimum, now=clock.now())
    return good.version if good else None


def test_a_version_healthy_for_less_than_the_minimum_is_not_good(
    db: Database, clock: FakeClock
) -> None:
    with db.write_session() as s:
        register(s, clock, "v1", "v2")
        serve(s, clock, "v1", healthy_after=1, for_s=13)  # healthy 12 s, then replaced
        serve(s, clock, "v2", healthy_after=None, for_s=60)
        assert lkg(s, FIVE_MINUTES, clock) is None
        assert lkg(s, timedelta(seconds=12), clock) == "v1"  # exactly the minimum qualifies
        with pytest.raises(Conflict) as raised:
            registry.rollback(
                s, model="iris", now=clock.now(), actor="ci", min_healthy_time=FIVE_MINUTES
            )
    error = raised.value
    assert error.code == "no_good_version"
    assert "no known good production version to roll back to" in error.message
    assert "v2 is live now" in error.message
    assert "v1 served healthily for 12s, less than the 5m minimum" in error.message
    assert error.details["considered"] == [
        {"version": "v2", "reason": "v2 is live now"},
        {"version": "v1", "reason": "v1 served healthily for 12s, less than the 5m minimum"},
    ]
    assert error.details["min_healthy_time_s"] == 300


def test_the_refusal_names_every_reason_a_version_was_rejected(
    db: Database, clock: FakeClock
) -> None:
    with db.write_session() as s:
        register(s, clock, "v1", "v2", "v3", "v4")
        serve(s, clock, "v1", healthy_after=None, for_s=600)  # never seen healthy
        serve(s, clock, "v2", healthy_after=5, for_s=900, fails_after=600)  # failed at 10 min
        serve(s, clock, "v3", healthy_after=2, for_s=62)  # healthy for one minute
        serve(s, clock, "v4", healthy_after=None, for_s=30, fails_after=20)
        with pytest.raises(Conflict) as raised:
            rollback_to_last_good(
                s,
                model="iris",
                incident="INC-2026-001",
                actor="runbook",
                now=clock.now(),
                min_healthy_time=FIVE_MINUTES,
            )
        reasons = [c["reason"] for c in raised.value.details["considered"]]
        assert reasons == [
            "v4 is live now",
            "v3 served healthily for 1m, less than the 5m minimum",
            "v2 failed while serving (10m after deploy)",
            "v1 was never seen healthy by a probe",
        ]
        assert registry.live_deployment(s, model="iris").version.version == "v4"  # type: ignore[union-attr]


def test_the_newest_version_that_lasted_the_minimum_wins(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        register(s, clock, "v1", "v2", "v3")
        serve(s, clock, "v1", healthy_after=3, for_s=3600)  # an hour of health
        serve(s, clock, "v2", healthy_after=3, for_s=30)  # replaced after 30 s
        serve(s, clock, "v3", healthy_after=None, for_s=10, fails_after=5)
        assert lkg(s, FIVE_MINUTES, clock) == "v1"
        assert lkg(s, timedelta(seconds=20), clock) == "v2"
        outcome = rollback_to_last_good(
            s,
            model="iris",
            incident="INC-2026-002",
            actor="runbook",
            now=clock.now(),
            min_healthy_time=FIVE_MINUTES,
        )
        assert (outcome.from_version, outcome.to_version) == ("v3", "v1")
        again = rollback_to_last_good(
            s,
            model="iris",
            incident="INC-2026-002",
            actor="runbook",
            now=clock.now(),
            min_healthy_time=FIVE_MINUTES,
        )
        assert again.already_done and again.to_version == "v1"


def test_an_explicit_target_needs_no_proof(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        register(s, clock, "v1", "v2")
        serve(s, clock, "v1", healthy_after=None, for_s=5)
        serve(s, clock, "v2", healthy_after=None, for_s=5)
        done = registry.rollback(
            s, model="iris", now=clock.now(), actor="ci", to="v1", min_healthy_time=FIVE_MINUTES
        )
        assert done.version.version == "v1"


def test_the_model_description_judges_with_the_given_minimum(
    db: Database, clock: FakeClock
) -> None:
    with db.write_session() as s:
        register(s, clock, "v1", "v2")
        serve(s, clock, "v1", healthy_after=1, for_s=61)
        serve(s, clock, "v2", healthy_after=1, for_s=5)
        strict = registry.describe_model(s, name="iris", now=clock.now())
        lenient = registry.describe_model(
            s, name="iris", min_healthy_time=timedelta(seconds=30), now=clock.now()
        )
        listed = registry.list_models(
            s, min_healthy_times={"iris": timedelta(seconds=30)}, now=clock.now()
        )
    assert strict.last_known_good is None and strict.min_healthy_time_s == 300
    assert lenient.last_known_good == "v1" and lenient.min_healthy_time_s == 30
    assert listed[0].last_known_good == "v1"


def test_with_no_earlier_version_the_refusal_says_so(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        register(s, clock, "v1")
        serve(s, clock, "v1", healthy_after=1, for_s=600)
        with pytest.raises(Conflict, match="v1 is live now; no earlier version served production"):
            registry.rollback(s, model="iris", now=clock.now(), actor="ci")


def test_a_version_rolled_back_by_an_incident_is_never_good_again(
    db: Database, clock: FakeClock
) -> None:
    """A slow or inaccurate build passes its health checks: what an incident rolled back is
    marked failed, so the next rollback does not return to it."""
    with db.write_session() as s:
        register(s, clock, "v1", "v2", "v3")
        serve(s, clock, "v1", healthy_after=1, for_s=600)
        serve(s, clock, "v2", healthy_after=1, for_s=600)  # healthy probes, but slow
        rolled = rollback_to_last_good(
            s, model="iris", incident="INC-2026-001", actor="ci", now=clock.now()
        )
        assert (rolled.from_version, rolled.to_version) == ("v2", "v1")
        registry.record_health(s, model="iris", healthy=True, at=clock.now())
        clock.advance(seconds=600)
        assert lkg(s, FIVE_MINUTES, clock) is None, "v1 is live; v2 was rolled back"
        serve(s, clock, "v3", healthy_after=1, for_s=600)
        assert lkg(s, FIVE_MINUTES, clock) == "v1"


def test_a_probe_that_began_before_the_deployment_says_nothing_about_it(
    db: Database, clock: FakeClock
) -> None:
    """The old version still answers (or fails) while the server switches: a failing streak
    that started under v3 and crossed its threshold after the rollback to v2 is not v2's."""
    with db.write_session() as s:
        register(s, clock, "v2", "v3")
        probe_started = clock.now()
        clock.advance(seconds=1)
        registry.deploy(s, model="iris", version="v2", now=clock.now(), actor="ci")
        assert not registry.record_health(s, model="iris", healthy=False, at=probe_started)
        assert not registry.record_health(s, model="iris", healthy=True, at=probe_started)
        live = registry.live_deployment(s, model="iris")
        assert live is not None and live.failed_at is None and live.first_healthy_at is None
        assert registry.record_health(s, model="iris", healthy=True, at=clock.now())


def test_a_server_reporting_another_version_says_nothing_about_the_live_one(
    db: Database, clock: FakeClock
) -> None:
    with db.write_session() as s:
        register(s, clock, "v2", "v3")
        registry.deploy(s, model="iris", version="v3", now=clock.now(), actor="ci")
        at = clock.now()
        assert not registry.record_health(s, model="iris", healthy=True, at=at, version="v2")
        assert registry.record_health(s, model="iris", healthy=True, at=at, version="v3")


def test_a_version_the_registry_does_not_know_is_no_evidence_against_the_live_one(
    db: Database, clock: FakeClock
) -> None:
    """A server reporting its build tag ("1.4.2") is still credited: only another registered
    version of the model says the probe saw something else."""
    with db.write_session() as s:
        register(s, clock, "v3")
        registry.deploy(s, model="iris", version="v3", now=clock.now(), actor="ci")
        assert registry.record_health(
            s, model="iris", healthy=True, at=clock.now(), version="1.4.2"
        )
