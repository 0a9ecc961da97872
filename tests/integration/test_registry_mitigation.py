"""Mitigation through the public interfaces: the registry API (traffic splits, aliases, region,
rollback with a minimum healthy time), the demo model service honouring a split it reads from
the real API, Firewatch's probe following a region switch, and the `firewatch model` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from firewatch.alerts.schemas import Alert
from firewatch.api.app import create_app
from firewatch.app import Runtime
from firewatch.auth.service import Scope
from firewatch.clock import FakeClock, SystemClock
from firewatch.config import FirewatchConfig
from firewatch.demo.app import create_demo_app
from firewatch.demo.settings import DemoSettings
from firewatch.detect.probes import HealthProbe
from firewatch.registry.regions import ActiveEndpoints
from firewatch.store.db import Database
from support.api import api_client, make_token
from support.servers import serve_in_thread

ROW = [14.0, 20.0, 90.0, 600.0, 0.1, 0.1, 0.1, 0.05, 0.2, 0.06] * 3


async def seed(client: httpx.AsyncClient, clock: FakeClock, *versions: tuple[str, str]) -> None:
    """Register ``versions`` (name, algorithm) and deploy each in turn, an hour apart."""
    for version, algorithm in versions:
        body = {"version": version, "metadata": {"algorithm": algorithm}}
        (await client.post("/api/v1/models/iris/versions", json=body)).raise_for_status()
    for version, _ in versions:
        (
            await client.post("/api/v1/models/iris/deploy", json={"version": version})
        ).raise_for_status()
        clock.advance(hours=1)


async def test_traffic_splits_over_the_api_validate_and_show_in_the_model(
    db: Database, clock: FakeClock
) -> None:
    async with api_client(db, clock) as (client, _):
        await seed(client, clock, ("v1", "logistic_regression"), ("v2", "random_forest"))
        url = "/api/v1/models/iris/traffic"
        assert (await client.get(url)).json()["weights"] == {"v2": 100}
        put = await client.put(url, json={"alias": "production", "weights": {"v2": 90, "v1": 10}})
        assert put.status_code == 200, put.text
        assert put.json()["split"] is True and put.json()["weights"] == {"v2": 90, "v1": 10}
        model = (await client.get("/api/v1/models/iris")).json()
        assert model["traffic"] == {"production": {"v2": 90, "v1": 10}}

        for body, status, needle in (
            ({"weights": {"v2": 90, "v1": 20}}, 422, "weights must sum to 100, got 110"),
            (
                {"weights": {"v2": 90.5, "v1": 9.5}},
                422,
                "weights.v2: Input should be a valid integer",
            ),
            ({"weights": {"v2": 110, "v1": -10}}, 422, "weight of v2 must be between 0 and 100"),
            ({"weights": {"v2": "90", "v1": 10}}, 422, "weights.v2"),
            ({"weights": {}}, 422, "give at least one version=percent"),
            ({"weights": {"v2": 50, "v9": 50}}, 404, "model 'iris' has no version 'v9'"),
            ({"weights": {"v1": 100}}, 409, "deploy it"),
            ({"weights": {"v2": 100}, "extra": 1}, 422, "extra"),
        ):
            bad = await client.put(url, json=body)
            assert bad.status_code == status, (body, bad.text)
            assert needle in bad.json()["error"]["message"], bad.json()
        assert (await client.get(url)).json()["weights"] == {"v2": 90, "v1": 10}  # kept
        unknown = await client.get("/api/v1/models/nope/traffic")
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_model"

        cleared = await client.put(url, json={"weights": {"v2": 100}})
        assert cleared.json()["split"] is False


async def test_aliases_region_and_rollback_with_the_configured_minimum(
    db: Database, clock: FakeClock
) -> None:
    config = FirewatchConfig.model_validate(
        {
            "models": [
                {
                    "name": "iris",
                    "rollback": {"min_healthy_time": "2h"},
                    "endpoints": [
                        {"region": "eu-west", "url": "http://eu.example"},
                        {"region": "us-east", "url": "http://us.example"},
                    ],
                }
            ]
        }
    )
    async with api_client(db, clock, config=config) as (client, runtime):
        await seed(client, clock, ("v1", "logistic_regression"), ("v2", "random_forest"))
        # no probe ever saw v1 healthy: the refusal says so, for the configured 2h minimum
        refused = await client.post("/api/v1/models/iris/rollback", json={})
        assert refused.status_code == 409
        error = refused.json()["error"]
        assert error["code"] == "no_good_version"
        assert "at least 2h" in error["message"] and "v1 was never seen healthy" in error["message"]
        assert error["details"]["considered"][0] == {"version": "v2", "reason": "v2 is live now"}
        assert (await client.get("/api/v1/models/iris")).json()["min_healthy_time_s"] == 7200

        put = await client.put("/api/v1/models/iris/aliases/fallback", json={"version": "v1"})
        assert put.status_code == 200 and put.json() == {
            "model": "iris",
            "alias": "fallback",
            "version": "v1",
        }
        served = await client.put("/api/v1/models/iris/aliases/production", json={"version": "v1"})
        assert served.status_code == 409 and served.json()["error"]["code"] == "served_alias"
        missing = await client.put("/api/v1/models/iris/aliases/fallback", json={"version": "v7"})
        assert (
            missing.status_code == 404 and "no version 'v7'" in missing.json()["error"]["message"]
        )
        aliases = (await client.get("/api/v1/models/iris")).json()["aliases"]
        assert aliases == {"production": "v2", "fallback": "v1"}

        region = (await client.get("/api/v1/models/iris/region")).json()
        assert region == {
            "model": "iris",
            "active_region": "eu-west",
            "regions": ["eu-west", "us-east"],
            "history": [],
        }
        mars = await client.put("/api/v1/models/iris/region", json={"region": "mars"})
        assert mars.status_code == 422 and "no region 'mars'" in mars.json()["error"]["message"]
        moved = await client.put(
            "/api/v1/models/iris/region", json={"region": "us-east", "reason": "DNS moved by hand"}
        )
        assert moved.status_code == 200 and moved.json()["from_region"] == "eu-west"
        again = await client.put("/api/v1/models/iris/region", json={"region": "us-east"})
        assert again.status_code == 409
        region = (await client.get("/api/v1/models/iris/region")).json()
        assert region["active_region"] == "us-east" and len(region["history"]) == 1
        assert (await client.get("/api/v1/models/iris")).json()["active_region"] == "us-east"
        assert runtime.config.model("iris") is not None

        removed = await client.delete("/api/v1/models/iris/aliases/fallback")
        assert removed.status_code == 200 and removed.json()["version"] == "v1"


@asynccontextmanager
async def firewatch_and_demo(db: Database) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """Firewatch's API and the demo model service reading its registry, both in-process."""
    clock = SystemClock()
    runtime = Runtime(FirewatchConfig(), db, clock=clock, run_workers=False)
    firewatch = httpx.ASGITransport(app=create_app(runtime))
    token = make_token(db, clock, Scope.ADMIN)
    await runtime.start()
    try:
        async with (
            httpx.AsyncClient(
                transport=firewatch,
                base_url="http://fw",
                headers={"Authorization": f"Bearer {token}"},
            ) as api,
            httpx.AsyncClient(transport=firewatch) as registry_client,
        ):
            for version, algorithm in (("v1", "logistic_regression"), ("v2", "random_forest")):
                body = {"version": version, "metadata": {"algorithm": algorithm}}
                (await api.post("/api/v1/models/iris/versions", json=body)).raise_for_status()
            (
                await api.post("/api/v1/models/iris/deploy", json={"version": "v2"})
            ).raise_for_status()
            settings = DemoSettings(
                model_name="iris",
                registry_url="http://fw",
                token=token,
                poll_interval=0.05,
                http_client=registry_client,
                random_seed=3,
            )
            demo = create_demo_app(settings)
            async with (
                demo.router.lifespan_context(demo),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=demo), base_url="http://demo"
                ) as model,
            ):
                yield api, model
    finally:
        await runtime.stop()


async def served_versions(model: httpx.AsyncClient, requests: int) -> Counter[str]:
    versions: Counter[str] = Counter()
    for _ in range(requests):
        answer = await model.post("/predict", json={"instances": [ROW]})
        assert answer.status_code == 200, answer.text
        versions[answer.json()["version"]] += 1
    return versions


async def wait_for_split(model: httpx.AsyncClient, expected: set[str]) -> None:
    for _ in range(200):
        if set(await served_versions(model, 10)) == expected:
            return
    raise AssertionError(f"the demo never served {expected}")


async def test_the_demo_service_splits_requests_by_the_registry_weights(
    sqlite_db: Database,
) -> None:
    async with firewatch_and_demo(sqlite_db) as (api, model):
        assert set(await served_versions(model, 5)) == {"v2"}
        put = await api.put("/api/v1/models/iris/traffic", json={"weights": {"v2": 70, "v1": 30}})
        assert put.status_code == 200, put.text
        await wait_for_split(model, {"v1", "v2"})
        counts = await served_versions(model, 400)
        assert 0.2 < counts["v1"] / 400 < 0.4, counts  # 30% ± sampling noise (seeded)
        health = (await model.get("/health")).json()
        assert health["version"] == "v2"  # the alias's version; the split is per request
        metrics = (await model.get("/metrics")).text
        assert 'model_requests_total{model="iris",version="v1"}' in metrics
        assert 'model_requests_total{model="iris",version="v2"}' in metrics

        (await api.post("/api/v1/models/iris/deploy", json={"version": "v1"})).raise_for_status()
        await wait_for_split(model, {"v1"})  # a deploy clears the split


def region_app(name: str) -> Starlette:
    async def health(_request: Request) -> JSONResponse:
        return JSONResponse({"region": name})

    return Starlette(routes=[Route("/health", health)])


@dataclass
class RecordingSink:
    alerts_seen: list[Alert] = field(default_factory=list)

    async def alerts(self, alerts: list[Alert]) -> None:
        self.alerts_seen.extend(alerts)

    async def health(
        self, model: str, healthy: bool, at: datetime, version: str | None = None
    ) -> None:
        pass

    async def current_version(self, model: str) -> str | None:
        return None

    async def served_versions(self, model: str) -> frozenset[str]:
        return frozenset()


async def test_the_probe_follows_a_region_switch(sqlite_db: Database, clock: FakeClock) -> None:
    with serve_in_thread(region_app("eu")) as eu, serve_in_thread(region_app("us")) as us:
        config = FirewatchConfig.model_validate(
            {
                "models": [
                    {
                        "name": "iris",
                        "endpoints": [
                            {"region": "eu-west", "url": eu},
                            {"region": "us-east", "url": us},
                        ],
                    }
                ]
            }
        )
        async with (
            api_client(sqlite_db, clock, config=config) as (client, _),
            httpx.AsyncClient() as http,
        ):
            probe = HealthProbe(
                config.models[0],
                sink=RecordingSink(),
                clock=clock,
                client=http,
                endpoints=ActiveEndpoints(sqlite_db, ttl_s=3600),
            )
            assert (await probe.check()).ok and probe.url == f"{eu}/health"
            moved = await client.put("/api/v1/models/iris/region", json={"region": "us-east"})
            assert moved.status_code == 200, moved.text
            assert (await probe.check()).ok and probe.url == f"{us}/health"


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FIREWATCH_USER")}
    env |= {
        "FIREWATCH_DATABASE_URL": f"sqlite:///{tmp_path}/fw.db",
        "FIREWATCH_CONFIG": str(tmp_path / "firewatch.yaml"),
        "FIREWATCH_USER": "alice",
    }
    return subprocess.run(
        [sys.executable, "-m", "firewatch", *args],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ok(tmp_path: Path, *args: str) -> str:
    done = cli(tmp_path, *args)
    assert done.returncode == 0, (args, done.stderr)
    return done.stdout


def fails(tmp_path: Path, *args: str) -> str:
    done = cli(tmp_path, *args)
    assert done.returncode == 1, (args, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and done.stdout == ""
    return " ".join(done.stderr.split())


def test_the_model_cli_sets_aliases_traffic_and_region(tmp_path: Path) -> None:
    model = {
        "name": "iris",
        "rollback": {"min_healthy_time": "10m"},
        "endpoints": [
            {"region": "eu-west", "url": "http://eu.example"},
            {"region": "us-east", "url": "http://us.example"},
        ],
    }
    (tmp_path / "firewatch.yaml").write_text(yaml.safe_dump({"models": [model]}))
    ok(tmp_path, "model", "register", "iris", "v1")
    ok(tmp_path, "model", "register", "iris", "v2")
    ok(tmp_path, "model", "deploy", "iris", "v1")
    ok(tmp_path, "model", "deploy", "iris", "v2")

    assert "iris fallback → v1" in ok(tmp_path, "model", "alias", "set", "iris", "fallback", "v1")
    assert "production is served" in fails(
        tmp_path, "model", "alias", "set", "iris", "production", "v1"
    )
    shown = ok(tmp_path, "model", "traffic", "iris", "v2=90", "v1=10")
    assert "iris production (split): v2 90%, v1 10%" in " ".join(shown.split())
    assert "weights must sum to 100, got 110" in fails(
        tmp_path, "model", "traffic", "iris", "v2=90", "v1=20"
    )
    assert "'v2=ninety': expected VERSION=PERCENT" in fails(
        tmp_path, "model", "traffic", "iris", "v2=ninety"
    )
    listed = json.loads(ok(tmp_path, "model", "traffic", "iris", "--json"))
    assert listed["weights"] == {"v2": 90, "v1": 10}

    refused = fails(tmp_path, "model", "rollback", "iris")
    assert "at least 10m" in refused and "v1 was never seen healthy by a probe" in refused

    assert "→ us-east" in ok(tmp_path, "model", "region", "iris", "us-east", "--reason", "drill")
    assert "no region 'mars'" in fails(tmp_path, "model", "region", "iris", "mars")
    [iris] = json.loads(ok(tmp_path, "model", "list", "--json"))
    assert iris["active_region"] == "us-east"
    assert iris["aliases"] == {"production": "v2", "fallback": "v1"}
