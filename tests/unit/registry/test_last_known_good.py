"""Last known good: the most recent earlier version that served production without failing."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from firewatch.clock import FakeClock
from firewatch.errors import Conflict, NotFound
from firewatch.registry import service as registry
from firewatch.store.db import Database


def serve(s: Session, clock: FakeClock, version: str, *, healthy: bool, fails: bool) -> None:
    registry.deploy(s, model="iris", version=version, now=clock.now(), actor="ci")
    clock.advance(minutes=1)
    if healthy:
        registry.record_health(s, model="iris", healthy=True, at=clock.now())
    if fails:
        clock.advance(minutes=1)
        registry.record_health(s, model="iris", healthy=False, at=clock.now())
    clock.advance(minutes=10)


def lkg(s: Session) -> str | None:
    good = registry.last_known_good(s, model_id=registry.get_model(s, name="iris").id)
    return good.version if good else None


def register(s: Session, clock: FakeClock, *versions: str) -> None:
    for v in versions:
        registry.register_version(s, model="iris", version=v, now=clock.now())


def test_previous_version_also_bad_goes_to_the_last_good_one(
    db: Database, clock: FakeClock
) -> None:
    with db.write_session() as s:
        register(s, clock, "v1", "v2", "v3")
        serve(s, clock, "v1", healthy=True, fails=False)
        serve(s, clock, "v2", healthy=True, fails=True)  # v2 broke while it served
        serve(s, clock, "v3", healthy=False, fails=True)
        assert lkg(s) == "v1"
        deployment = registry.rollback(s, model="iris", now=clock.now(), actor="runbook")
        assert (deployment.version.version, deployment.previous_version.version) == ("v1", "v3")  # type: ignore[union-attr]
        assert deployment.kind == "rollback"


def test_only_a_versions_latest_period_counts(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        register(s, clock, "v1", "v2", "v3")
        serve(s, clock, "v1", healthy=True, fails=False)
        serve(s, clock, "v2", healthy=True, fails=False)
        serve(s, clock, "v1", healthy=True, fails=True)  # v1 redeployed and failed this time
        serve(s, clock, "v3", healthy=False, fails=True)
        assert lkg(s) == "v2"


def test_never_observed_healthy_is_not_good(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        register(s, clock, "v1", "v2")
        serve(s, clock, "v1", healthy=False, fails=False)
        serve(s, clock, "v2", healthy=False, fails=True)
        assert lkg(s) is None
        with pytest.raises(Conflict, match="no known good production version"):
            registry.rollback(s, model="iris", now=clock.now(), actor="runbook")


def test_the_live_version_is_never_its_own_rollback_target(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        register(s, clock, "v1", "v2")
        serve(s, clock, "v1", healthy=True, fails=False)
        serve(s, clock, "v2", healthy=True, fails=False)
        serve(s, clock, "v1", healthy=True, fails=False)
        assert lkg(s) == "v2"


def test_deploy_errors_name_the_problem(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        register(s, clock, "v1")
        with pytest.raises(NotFound, match="has no version 'v9'") as info:
            registry.deploy(s, model="iris", version="v9", now=clock.now(), actor="me")
        assert info.value.details["known_versions"] == ["v1"]
        with pytest.raises(NotFound, match="no model named 'nope'"):
            registry.deploy(s, model="nope", version="v1", now=clock.now(), actor="me")
        registry.deploy(s, model="iris", version="v1", now=clock.now(), actor="me")
        with pytest.raises(Conflict, match="already serving v1"):
            registry.deploy(s, model="iris", version="v1", now=clock.now(), actor="me")
        with pytest.raises(Conflict, match="already has a version 'v1'"):
            register(s, clock, "v1")


def test_history_and_aliases(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        register(s, clock, "v1", "v2")
        serve(s, clock, "v1", healthy=True, fails=False)
        serve(s, clock, "v2", healthy=True, fails=False)
        registry.deploy(
            s, model="iris", version="v1", alias="fallback", now=clock.now(), actor="me"
        )
    with db.read_session() as s:
        described = registry.describe_model(s, name="iris")
        history = registry.history(s, model="iris")
    assert described.aliases == {"production": "v2", "fallback": "v1"}
    assert described.last_known_good == "v1"
    assert described.production is not None and described.production.version == "v2"
    assert [(h.alias, h.version) for h in history] == [
        ("fallback", "v1"),
        ("production", "v2"),
        ("production", "v1"),
    ]
