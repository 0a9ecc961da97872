"""The fallback alias (a non-serving alias set by hand) and the active region with its cached
lookup, which probes use to follow a failover."""

from __future__ import annotations

import pytest

from firewatch.clock import FakeClock
from firewatch.config import ModelConfig
from firewatch.errors import Conflict, InvalidInput, NotFound
from firewatch.registry import aliases, regions
from firewatch.registry import service as registry
from firewatch.store.db import Database

REGIONS = ["eu-west", "us-east", "ap-south"]


def test_the_fallback_alias_is_set_moved_and_removed(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        for v in ("v1", "v2"):
            registry.register_version(s, model="iris", version=v, now=clock.now())
        registry.deploy(s, model="iris", version="v2", now=clock.now(), actor="ci")
        aliases.set_alias(
            s, model="iris", alias="fallback", version="v1", now=clock.now(), actor="a"
        )
        assert registry.describe_model(s, name="iris").aliases == {
            "production": "v2",
            "fallback": "v1",
        }
        aliases.set_alias(
            s, model="iris", alias="fallback", version="v2", now=clock.now(), actor="a"
        )
        model_id = registry.get_model(s, name="iris").id
        assert aliases.alias_version(s, model_id=model_id, alias="fallback").version == "v2"  # type: ignore[union-attr]
        assert registry.history(s, model="iris")[0].alias == "production"  # no deployment made
        assert (
            aliases.remove_alias(s, model="iris", alias="fallback", now=clock.now(), actor="a")
            == "v2"
        )
        assert aliases.alias_version(s, model_id=model_id, alias="fallback") is None


def test_alias_mistakes_are_refused_naming_the_problem(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        registry.register_version(s, model="iris", version="v1", now=clock.now())
        registry.deploy(s, model="iris", version="v1", now=clock.now(), actor="ci")
        with pytest.raises(Conflict, match="production is served: move it with") as served:
            aliases.set_alias(
                s, model="iris", alias="production", version="v1", now=clock.now(), actor="a"
            )
        assert served.value.code == "served_alias"
        with pytest.raises(NotFound, match="has no version 'v7'"):
            aliases.set_alias(
                s, model="iris", alias="fallback", version="v7", now=clock.now(), actor="a"
            )
        with pytest.raises(InvalidInput, match="invalid alias 'fall back'"):
            aliases.set_alias(
                s, model="iris", alias="fall back", version="v1", now=clock.now(), actor="a"
            )
        with pytest.raises(NotFound, match="has no alias 'fallback'"):
            aliases.remove_alias(s, model="iris", alias="fallback", now=clock.now(), actor="a")
        with pytest.raises(Conflict, match="cannot be removed"):
            aliases.remove_alias(s, model="iris", alias="production", now=clock.now(), actor="a")


def test_a_region_switch_is_recorded_with_its_history(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        assert regions.active_region(s, model="iris") is None
        switch = regions.switch_region(
            s, model="iris", to="us-east", regions=REGIONS, now=clock.now(), actor="a", reason="r1"
        )
        assert (switch.from_region, switch.to_region) == ("eu-west", "us-east")
        clock.advance(minutes=5)
        regions.switch_region(
            s, model="iris", to="eu-west", regions=REGIONS, now=clock.now(), actor="b"
        )
        assert regions.active_region(s, model="iris") == "eu-west"
        history = regions.region_history(s, model="iris")
        assert [(h.from_region, h.to_region, h.actor) for h in history] == [
            ("us-east", "eu-west", "b"),
            ("eu-west", "us-east", "a"),
        ]
        assert registry.describe_model(s, name="iris").active_region == "eu-west"


def test_region_mistakes_are_refused(db: Database, clock: FakeClock) -> None:
    with db.write_session() as s:
        with pytest.raises(InvalidInput, match=r"no region 'mars' \(configured: eu-west, us-east"):
            regions.switch_region(
                s, model="iris", to="mars", regions=REGIONS, now=clock.now(), actor="a"
            )
        with pytest.raises(Conflict, match="already served from eu-west"):
            regions.switch_region(
                s, model="iris", to="eu-west", regions=REGIONS, now=clock.now(), actor="a"
            )
        with pytest.raises(InvalidInput, match="no endpoints configured"):
            regions.switch_region(s, model="iris", to="x", regions=[], now=clock.now(), actor="a")


async def test_active_endpoints_follow_a_switch_at_once_here_and_after_the_ttl_elsewhere(
    sqlite_db: Database, clock: FakeClock
) -> None:
    model = ModelConfig.model_validate(
        {
            "name": "iris",
            "endpoints": [
                {"region": "eu-west", "url": "http://eu.example:8080"},
                {
                    "region": "us-east",
                    "url": "http://us.example:8080",
                    "health_url": "http://us.example:8080/ready",
                },
            ],
        }
    )
    plain = ModelConfig.model_validate({"name": "plain", "health_url": "http://p.example/health"})
    resolver = regions.ActiveEndpoints(sqlite_db, ttl_s=3600)
    assert await resolver.probe_url(model) == "http://eu.example:8080/health"
    assert await resolver.probe_url(plain) == "http://p.example/health"
    assert await regions.resolve_probe_url(sqlite_db, model) == "http://eu.example:8080/health"

    with sqlite_db.write_session() as s:  # e.g. `firewatch model region` in another process
        regions.switch_region(
            s,
            model="iris",
            to="us-east",
            regions=["eu-west", "us-east"],
            now=clock.now(),
            actor="a",
        )
    assert await resolver.probe_url(model) == "http://eu.example:8080/health"  # cached
    assert await regions.resolve_probe_url(sqlite_db, model) == "http://us.example:8080/ready"
    regions.switched()  # a switch committed in this process refreshes at once
    assert await resolver.probe_url(model) == "http://us.example:8080/ready"

    fresh = regions.ActiveEndpoints(sqlite_db, ttl_s=0)
    with sqlite_db.write_session() as s:
        regions.switch_region(
            s,
            model="iris",
            to="eu-west",
            regions=["eu-west", "us-east"],
            now=clock.now(),
            actor="a",
        )
    assert await fresh.probe_url(model) == "http://eu.example:8080/health"


def test_a_region_the_config_no_longer_names_falls_back_to_the_primary() -> None:
    model = ModelConfig.model_validate(
        {"name": "iris", "endpoints": [{"region": "eu-west", "url": "http://eu.example"}]}
    )
    assert model.probe_url("gone") == "http://eu.example/health"
    with pytest.raises(ValueError, match="either url / health_url or endpoints"):
        ModelConfig.model_validate(
            {
                "name": "iris",
                "url": "http://x.example",
                "endpoints": [{"region": "eu-west", "url": "http://eu.example"}],
            }
        )
    with pytest.raises(ValueError, match="endpoints: 'eu-west' is defined twice"):
        ModelConfig.model_validate(
            {
                "name": "iris",
                "endpoints": [
                    {"region": "eu-west", "url": "http://eu.example"},
                    {"region": "eu-west", "url": "http://eu2.example"},
                ],
            }
        )
