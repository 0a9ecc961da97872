"""Traffic splits: percent per version of an alias, validated, shown in the model, cleared by
the next deploy; bad input is refused naming the problem and leaves the stored split as it was."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from firewatch.clock import FakeClock
from firewatch.errors import Conflict, InvalidInput, NotFound
from firewatch.registry import service as registry
from firewatch.registry import traffic
from firewatch.store.db import Database
from firewatch.store.events import EventRow


def setup(s: Session, clock: FakeClock) -> None:
    for v in ("v1", "v2", "v3"):
        registry.register_version(s, model="iris", version=v, now=clock.now())
    registry.deploy(s, model="iris", version="v2", now=clock.now(), actor="ci")


def test_a_split_is_stored_shown_and_cleared_by_the_next_deploy(
    db: Database, clock: FakeClock
) -> None:
    with db.write_session() as s:
        setup(s, clock)
        assert traffic.get_traffic(s, model="iris").weights == {"v2": 100}
        shown = traffic.set_traffic(
            s, model="iris", weights={"v2": 90, "v3": 10}, now=clock.now(), actor="alice"
        )
        assert (shown.split, shown.version, shown.weights) == (True, "v2", {"v2": 90, "v3": 10})
        assert shown.actor == "alice"
        model = registry.describe_model(s, name="iris")
        assert model.traffic == {"production": {"v2": 90, "v3": 10}}
        assert model.aliases["production"] == "v2"  # the deploy history is unchanged

        registry.deploy(s, model="iris", version="v1", now=clock.now(), actor="ci")
        after = traffic.get_traffic(s, model="iris")
        assert (after.split, after.weights) == (False, {"v1": 100})
        types = list(s.scalars(select(EventRow.type).order_by(EventRow.id)))
        payloads = list(s.scalars(select(EventRow.payload).order_by(EventRow.id)))
    assert "model.traffic_changed" in types
    assert payloads[-1]["cleared_traffic_split"] == {"v2": 90, "v3": 10}


def test_the_alias_version_alone_at_100_clears_a_split(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        setup(s, clock)
        traffic.set_traffic(
            s, model="iris", weights={"v2": 50, "v3": 50}, now=clock.now(), actor="a"
        )
        cleared = traffic.set_traffic(
            s, model="iris", weights={"v2": 100, "v3": 0}, now=clock.now(), actor="a"
        )
        assert (cleared.split, cleared.weights) == (False, {"v2": 100})
        drained = traffic.set_traffic(
            s, model="iris", weights={"v2": 0, "v1": 40, "v3": 60}, now=clock.now(), actor="a"
        )
        assert drained.weights == {"v3": 60, "v1": 40}


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"v2": 90, "v3": 20}, "weights must sum to 100, got 110 (v2=90, v3=20)"),
        ({"v2": 110, "v3": -10}, "weight of v2 must be between 0 and 100, got 110"),
        ({"v2": 99.5, "v3": 0.5}, "weight of v2 must be a whole number, got 99.5"),
        ({}, "weights: give at least one version=percent"),
        ({"v 2": 100}, "a version name is 1-100 characters"),
    ],
)
def test_bad_weights_are_refused_and_the_stored_split_is_kept(
    db: Database, clock: FakeClock, weights: dict[str, int], message: str
) -> None:
    with db.write_session() as s:
        setup(s, clock)
        traffic.set_traffic(
            s, model="iris", weights={"v2": 80, "v3": 20}, now=clock.now(), actor="a"
        )
        with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
            traffic.set_traffic(s, model="iris", weights=weights, now=clock.now(), actor="a")
        assert traffic.get_traffic(s, model="iris").weights == {"v2": 80, "v3": 20}


def test_state_conflicts_name_the_problem(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        for v in ("v1", "v2", "v3"):
            registry.register_version(s, model="iris", version=v, now=clock.now())
        with pytest.raises(Conflict, match="serves no version yet") as raised:
            traffic.set_traffic(s, model="iris", weights={"v1": 100}, now=clock.now(), actor="a")
        assert raised.value.code == "not_deployed"
        registry.deploy(s, model="iris", version="v2", now=clock.now(), actor="ci")
        with pytest.raises(NotFound, match="model 'iris' has no version 'v9'") as unknown:
            traffic.set_traffic(
                s, model="iris", weights={"v2": 50, "v9": 50}, now=clock.now(), actor="a"
            )
        assert unknown.value.details["known_versions"] == ["v1", "v2", "v3"]
        with pytest.raises(Conflict, match="the split must include v2") as missing:
            traffic.set_traffic(
                s, model="iris", weights={"v1": 50, "v3": 50}, now=clock.now(), actor="a"
            )
        assert missing.value.code == "split_without_live_version"
        with pytest.raises(Conflict, match="deploy it") as whole:
            traffic.set_traffic(
                s, model="iris", weights={"v2": 0, "v3": 100}, now=clock.now(), actor="a"
            )
        assert whole.value.code == "use_deploy"
        with pytest.raises(NotFound, match="no model named 'nope'"):
            traffic.get_traffic(s, model="nope")
        assert traffic.get_traffic(s, model="iris").split is False


def test_splits_are_per_alias(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        setup(s, clock)
        registry.deploy(s, model="iris", version="v1", now=clock.now(), actor="ci", alias="staging")
        traffic.set_traffic(
            s,
            model="iris",
            alias="staging",
            weights={"v1": 70, "v3": 30},
            now=clock.now(),
            actor="a",
        )
        assert traffic.get_traffic(s, model="iris").split is False
        assert registry.describe_model(s, name="iris").traffic == {"staging": {"v1": 70, "v3": 30}}
