"""The mitigation actions as runbook steps: switch_to_fallback, reroute_traffic and
failover_region against a real database, real health endpoints and a real hook receiver;
dry runs change nothing; failures are FAILED results that say why, never exceptions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from firewatch.clock import FakeClock
from firewatch.config import FirewatchConfig
from firewatch.registry import aliases, regions
from firewatch.registry import service as registry
from firewatch.registry import traffic as registry_traffic
from firewatch.runbooks.schema import Outcome
from firewatch.runbooks.steps import ACTION_KINDS, STEPS
from firewatch.runbooks.steps.base import IncidentView, StepContext
from firewatch.runbooks.steps.health import health_recovers
from firewatch.runbooks.steps.mitigation import (
    failover_region,
    reroute_traffic,
    switch_to_fallback,
)
from firewatch.store.db import Database
from firewatch.store.writer import Writer
from support.receiver import Receiver
from support.servers import free_port, serve_in_thread


def context(
    db: Database,
    writer: Writer,
    clock: FakeClock,
    client: httpx.AsyncClient,
    *,
    model: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    dry_run: bool = False,
) -> StepContext:
    settings = FirewatchConfig.model_validate(
        {"models": [{"name": "iris", **(model or {})}], **(config or {})}
    )
    incident = IncidentView(
        7, "INC-2026-007", "iris", "v3", datetime(2026, 1, 15, 14, 30, tzinfo=UTC), "triggered"
    )
    return StepContext(
        incident=incident,
        model=settings.model("iris"),
        settings=settings.runbooks,
        db=db,
        writer=writer,
        clock=clock,
        client=client,
        actor="firewatch:runbook",
        config=settings,
        dry_run=dry_run,
    )


def fleet(db: Database, clock: FakeClock, *, fallback: str | None = "v1") -> None:
    """v1, v2 served an hour each, healthy; v3 live and failing."""
    with db.write_session() as s:
        for v in ("v1", "v2", "v3"):
            registry.register_version(s, model="iris", version=v, now=clock.now())
        for v in ("v1", "v2"):
            registry.deploy(s, model="iris", version=v, now=clock.now(), actor="ci")
            registry.record_health(s, model="iris", healthy=True, at=clock.now())
            clock.advance(hours=1)
        registry.deploy(s, model="iris", version="v3", now=clock.now(), actor="ci")
        if fallback:
            aliases.set_alias(
                s, model="iris", alias="fallback", version=fallback, now=clock.now(), actor="ci"
            )


def production(db: Database) -> tuple[str, str]:
    with db.read_session() as s:
        live = registry.live_deployment(s, model="iris")
        assert live is not None
        return live.version.version, live.kind


def test_the_steps_are_registered_with_their_policy_kinds() -> None:
    for name, kind in (
        ("switch_to_fallback", "fallback"),
        ("reroute_traffic", "reroute"),
        ("failover_region", "failover"),
    ):
        assert name in STEPS and ACTION_KINDS[name] == kind


async def test_switch_to_fallback_dry_run_then_real_then_repeat(
    db: Database, writer: Writer, clock: FakeClock
) -> None:
    fleet(db, clock)
    async with httpx.AsyncClient() as client:
        planned = await switch_to_fallback(context(db, writer, clock, client, dry_run=True), {})
        assert planned.outcome is Outcome.PASSED
        assert planned.summary.startswith("would switch iris production from v3 to the fallback v1")
        assert planned.output["dry_run"] is True and production(db) == ("v3", "deploy")

        done = await switch_to_fallback(context(db, writer, clock, client), {})
        assert done.outcome is Outcome.PASSED
        assert done.summary.startswith("Switched iris production from v3 to the fallback v1")
        assert production(db) == ("v1", "fallback")
        again = await switch_to_fallback(context(db, writer, clock, client), {})
        assert again.outcome is Outcome.PASSED and again.output["already_done"] is True
    with db.read_session() as s:
        assert registry.history(s, model="iris")[0].reason == "fallback for INC-2026-007"


async def test_switch_to_fallback_without_a_fallback_fails_saying_how_to_set_one(
    db: Database, writer: Writer, clock: FakeClock
) -> None:
    fleet(db, clock, fallback=None)
    async with httpx.AsyncClient() as client:
        result = await switch_to_fallback(context(db, writer, clock, client), {})
    assert result.outcome is Outcome.FAILED
    assert "firewatch model alias set iris fallback VERSION" in result.summary
    assert result.output["code"] == "no_fallback" and production(db) == ("v3", "deploy")


async def test_reroute_traffic_share_and_whole(
    db: Database, writer: Writer, clock: FakeClock
) -> None:
    fleet(db, clock)
    rollback = {"rollback": {"min_healthy_time": "30m"}}
    async with httpx.AsyncClient() as client:
        dry = await reroute_traffic(
            context(db, writer, clock, client, model=rollback, dry_run=True), {"percent": 10}
        )
        assert dry.summary == "would route 10% of iris traffic to v2 (90% stays on v3)"
        with db.read_session() as s:
            assert registry_traffic.get_traffic(s, model="iris").split is False

        share = await reroute_traffic(
            context(db, writer, clock, client, model=rollback), {"percent": 10}
        )
        assert share.outcome is Outcome.PASSED, share.summary
        assert share.output["weights"] == {"v3": 90, "v2": 10}
        with db.read_session() as s:
            assert registry.describe_model(s, name="iris").traffic == {
                "production": {"v3": 90, "v2": 10}
            }

        repeat = await reroute_traffic(
            context(db, writer, clock, client, model=rollback), {"percent": 10}
        )
        assert repeat.outcome is Outcome.PASSED and repeat.output["already_done"] is True

        strict = {"rollback": {"min_healthy_time": "2h"}}
        refused = await reroute_traffic(
            context(db, writer, clock, client, model=strict), {"percent": 50}
        )
        assert refused.outcome is Outcome.FAILED
        assert "v2 served healthily for 1h, less than the 2h minimum" in refused.summary

        whole = await reroute_traffic(context(db, writer, clock, client), {"to": "v1"})
        assert whole.outcome is Outcome.PASSED
        assert whole.summary.startswith("Routed all iris traffic from v3 to v1")
        assert production(db) == ("v1", "reroute")


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"percent": 0}, "parameter 'percent' must be a whole number 1-100, got 0"),
        ({"percent": "50"}, "parameter 'percent' must be a whole number 1-100, got '50'"),
        ({"to": 3}, "parameter 'to' must be a version name, got 3"),
        ({"to": "v9"}, "model 'iris' has no version 'v9'"),
    ],
)
async def test_reroute_traffic_bad_parameters_fail_clearly(
    db: Database, writer: Writer, clock: FakeClock, params: dict[str, Any], problem: str
) -> None:
    fleet(db, clock)
    async with httpx.AsyncClient() as client:
        result = await reroute_traffic(context(db, writer, clock, client), params)
    assert result.outcome is Outcome.FAILED and problem in result.summary
    assert production(db) == ("v3", "deploy")


class Region:
    """A region's model service: /health answers ``status``."""

    def __init__(self, status: int) -> None:
        self.status = status

    def app(self) -> Starlette:
        async def health(_request: Request) -> JSONResponse:
            return JSONResponse({}, status_code=self.status)

        return Starlette(routes=[Route("/health", health)])


@pytest.fixture
def three_regions() -> Iterator[tuple[dict[str, Region], dict[str, str]]]:
    services = {"eu-west": Region(503), "us-east": Region(503), "ap-south": Region(200)}
    with (
        serve_in_thread(services["eu-west"].app()) as eu,
        serve_in_thread(services["us-east"].app()) as us,
        serve_in_thread(services["ap-south"].app()) as ap,
    ):
        yield services, {"eu-west": eu, "us-east": us, "ap-south": ap}


def regional(urls: dict[str, str], hook: str | None = None) -> dict[str, Any]:
    model: dict[str, Any] = {
        "endpoints": [{"region": r, "url": u} for r, u in urls.items()],
        "probe": {"timeout": "1s", "interval": "1s"},
    }
    if hook:
        model["failover_hook"] = hook
    return model


async def test_failover_skips_unhealthy_regions_calls_the_hook_and_health_follows(
    sqlite_db: Database, clock: FakeClock, three_regions: tuple[dict[str, Region], dict[str, str]]
) -> None:
    services, urls = three_regions
    receiver = Receiver()
    writer = Writer(sqlite_db)
    writer.start()
    try:
        with serve_in_thread(receiver.app()) as hook_url:
            hooks = {"runbooks": {"hooks": {"dns": {"url": f"{hook_url}/hook"}}}}
            async with httpx.AsyncClient() as client:

                def ctx(dry_run: bool = False) -> StepContext:
                    return context(
                        sqlite_db,
                        writer,
                        clock,
                        client,
                        model=regional(urls, "dns"),
                        config=hooks,
                        dry_run=dry_run,
                    )

                dry = await failover_region(ctx(dry_run=True), {})
                assert dry.summary.startswith(
                    "would fail iris over from eu-west to ap-south via hook dns (ap-south: HTTP 200)"
                )
                assert receiver.bodies() == []

                done = await failover_region(ctx(), {})
                assert done.outcome is Outcome.PASSED, done.summary
                assert done.summary.startswith(
                    "Failed iris over from eu-west to ap-south via hook dns"
                )
                assert [p["region"] for p in done.output["probes"]] == ["us-east", "ap-south"]
                [body] = receiver.bodies()
                assert body["args"] == {"model": "iris", "from": "eu-west", "to": "ap-south"}
                assert body["incident"]["id"] == "INC-2026-007"

                again = await failover_region(ctx(), {})
                assert again.outcome is Outcome.PASSED and again.output["already_done"] is True
                assert len(receiver.bodies()) == 1

                verified = await health_recovers(ctx(), {"deadline": "3s", "consecutive": 2})
                assert verified.outcome is Outcome.PASSED, verified.summary
                assert verified.output["url"] == f"{urls['ap-south']}/health"
    finally:
        writer.stop()
    with sqlite_db.read_session() as s:
        assert regions.active_region(s, model="iris") == "ap-south"
        [switch] = regions.region_history(s, model="iris")
        assert switch.reason == "failover for INC-2026-007" and switch.actor == "firewatch:runbook"
    assert services["eu-west"].status == 503


async def test_failover_fails_clearly_and_moves_nothing(
    sqlite_db: Database, clock: FakeClock, three_regions: tuple[dict[str, Region], dict[str, str]]
) -> None:
    services, urls = three_regions
    services["ap-south"].status = 500
    receiver = Receiver(responses=[(500, {})])
    writer = Writer(sqlite_db)
    writer.start()
    try:
        with serve_in_thread(receiver.app()) as hook_url:
            hooks = {"runbooks": {"hooks": {"dns": {"url": f"{hook_url}/hook"}}}}
            async with httpx.AsyncClient() as client:
                model = regional(urls, "dns")
                nowhere = await failover_region(
                    context(sqlite_db, writer, clock, client, model=model, config=hooks), {}
                )
                assert nowhere.outcome is Outcome.FAILED
                assert nowhere.summary == (
                    "no healthy region to fail iris over to from eu-west (us-east: HTTP 503; "
                    "ap-south: HTTP 500); traffic stays where it is"
                )
                services["us-east"].status = 200
                hook_fails = await failover_region(
                    context(sqlite_db, writer, clock, client, model=model, config=hooks),
                    {"region": "us-east"},
                )
                assert hook_fails.outcome is Outcome.FAILED
                assert hook_fails.summary.startswith(
                    "failover hook dns failed, so iris stays in eu-west"
                )
                unknown = await failover_region(
                    context(sqlite_db, writer, clock, client, model=model, config=hooks),
                    {"region": "mars"},
                )
                assert (
                    "no region 'mars' (configured: eu-west, us-east, ap-south)" in unknown.summary
                )
                flat = await failover_region(
                    context(
                        sqlite_db,
                        writer,
                        clock,
                        client,
                        model={"health_url": f"http://127.0.0.1:{free_port()}/health"},
                    ),
                    {},
                )
                assert flat.outcome is Outcome.FAILED and "no endpoints configured" in flat.summary
    finally:
        writer.stop()
    with sqlite_db.read_session() as s:
        assert regions.active_region(s, model="iris") is None


async def test_failover_without_a_hook_records_the_switch_and_says_what_is_left(
    sqlite_db: Database, clock: FakeClock, three_regions: tuple[dict[str, Region], dict[str, str]]
) -> None:
    _services, urls = three_regions
    writer = Writer(sqlite_db)
    writer.start()
    try:
        async with httpx.AsyncClient() as client:
            result = await failover_region(
                context(sqlite_db, writer, clock, client, model=regional(urls)), {}
            )
    finally:
        writer.stop()
    assert result.outcome is Outcome.PASSED
    assert "no failover_hook is configured" in result.summary
    assert "switch DNS / the load balancer too" in result.summary
