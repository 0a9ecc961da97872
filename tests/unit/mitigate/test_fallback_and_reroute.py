"""Switching to the fallback version and rerouting traffic, per incident and idempotently; a
plan reads without writing; refusals name the problem."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from firewatch.clock import FakeClock
from firewatch.errors import Conflict, InvalidInput
from firewatch.mitigate import fallback, traffic
from firewatch.registry import aliases
from firewatch.registry import service as registry
from firewatch.registry import traffic as registry_traffic
from firewatch.store.db import Database


def fleet(s: Session, clock: FakeClock) -> None:
    """v1 (baseline) then v2 served an hour each, healthy; v3 live and failing."""
    for v in ("v1", "v2", "v3"):
        registry.register_version(s, model="iris", version=v, now=clock.now())
    for v in ("v1", "v2"):
        registry.deploy(s, model="iris", version=v, now=clock.now(), actor="ci")
        registry.record_health(s, model="iris", healthy=True, at=clock.now())
        clock.advance(hours=1)
    registry.deploy(s, model="iris", version="v3", now=clock.now(), actor="ci")
    registry.record_health(s, model="iris", healthy=False, at=clock.now())


def live(s: Session) -> tuple[str, str, str]:
    row = registry.live_deployment(s, model="iris")
    assert row is not None
    return row.version.version, row.kind, row.reason


def test_fallback_moves_production_once_per_incident(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        fleet(s, clock)
        with pytest.raises(Conflict, match="has no fallback version: name one with") as none:
            fallback.plan_fallback(s, model="iris", incident="INC-2026-001")
        assert none.value.code == "no_fallback"
        aliases.set_alias(
            s, model="iris", alias="fallback", version="v1", now=clock.now(), actor="a"
        )
        plan = fallback.plan_fallback(s, model="iris", incident="INC-2026-001")
        assert (plan.from_version, plan.to_version, plan.already_done) == ("v3", "v1", False)
        assert live(s)[0] == "v3"  # a plan changes nothing

        done = fallback.switch_to_fallback(
            s, model="iris", incident="INC-2026-001", actor="runbook", now=clock.now()
        )
        assert (done.from_version, done.to_version, done.already_done) == ("v3", "v1", False)
        assert live(s) == ("v1", "fallback", "fallback for INC-2026-001")
        again = fallback.switch_to_fallback(
            s, model="iris", incident="INC-2026-001", actor="runbook", now=clock.now()
        )
        assert again.already_done and (again.from_version, again.to_version) == ("v3", "v1")
        assert len(registry.history(s, model="iris")) == 4  # no second deployment
        with pytest.raises(Conflict, match="already serves the fallback version v1"):
            fallback.switch_to_fallback(
                s, model="iris", incident="INC-2026-002", actor="runbook", now=clock.now()
            )


def test_reroute_a_share_to_the_last_known_good_version(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        fleet(s, clock)
        plan = traffic.reroute(
            s,
            model="iris",
            incident="INC-2026-003",
            actor="runbook",
            now=clock.now(),
            percent=25,
        )
        assert (plan.from_version, plan.to_version, plan.weights) == (
            "v3",
            "v2",
            {"v3": 75, "v2": 25},
        )
        assert plan.describe() == "25% of iris traffic to v2 (75% stays on v3)"
        shown = registry_traffic.get_traffic(s, model="iris")
        assert shown.weights == {"v3": 75, "v2": 25} and shown.reason == "reroute for INC-2026-003"
        again = traffic.reroute(
            s, model="iris", incident="INC-2026-003", actor="runbook", now=clock.now(), percent=25
        )
        assert again.already_done and (again.to_version, again.percent) == ("v2", 25)

        whole = traffic.reroute(
            s, model="iris", incident="INC-2026-004", actor="runbook", now=clock.now(), to="v1"
        )
        assert whole.describe() == "all iris traffic from v3 to v1"
        assert live(s) == ("v1", "reroute", "reroute for INC-2026-004")
        assert registry_traffic.get_traffic(s, model="iris").split is False  # cleared by the move
        repeat = traffic.reroute(
            s, model="iris", incident="INC-2026-004", actor="runbook", now=clock.now(), to="v1"
        )
        assert repeat.already_done and (repeat.from_version, repeat.to_version) == ("v3", "v1")


def test_reroute_refusals_name_the_problem(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        fleet(s, clock)
        for percent in (0, 101, 12.5, True):
            with pytest.raises(InvalidInput, match="percent must be a whole number from 1 to 100"):
                traffic.plan_reroute(s, model="iris", incident="I", percent=percent)  # type: ignore[arg-type]
        with pytest.raises(Conflict, match="already serves v3"):
            traffic.plan_reroute(s, model="iris", incident="I", to="v3")
        with pytest.raises(
            Conflict, match="no known good production version to reroute to"
        ) as none:
            traffic.plan_reroute(
                s, model="iris", incident="I", min_healthy_time=timedelta(hours=2), now=clock.now()
            )
        assert [c["version"] for c in none.value.details["considered"]] == ["v3", "v2", "v1"]
        assert live(s)[0] == "v3"
