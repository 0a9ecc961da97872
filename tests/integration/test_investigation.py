"""The investigation at incident open, with Firewatch running: incidents opened by real detection
(failing inference events; a bad deploy failing its health probes) get one ``investigation``
entry with the recent deploys, drift, failed requests, signals and the service's log lines read
from a real HTTP endpoint and a real command."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from firewatch.clock import SystemClock
from firewatch.config import FirewatchConfig
from firewatch.store.db import Database
from support.api import api_client
from support.model_server import FakeModelService
from support.servers import serve_in_thread

RNG = np.random.default_rng(5)
POD_LOG = [
    "2026-01-15T14:29:58Z INFO  loading model scorer v3",
    "2026-01-15T14:30:00Z ERROR predict failed: ValueError: could not convert 'n/a' to float",
    "psycopg2.OperationalError: could not connect to server: Connection refused",
    "Last State: Terminated, Reason: OOMKilled, Exit Code: 137",
    "2026-01-15T14:30:03Z INFO  POST /predict 200 took 500 ms",
]


@pytest.fixture
def log_url() -> Iterator[str]:
    async def logs(request: Request) -> PlainTextResponse:
        return PlainTextResponse("\n".join(POD_LOG) + "\n")

    with serve_in_thread(Starlette(routes=[Route("/logs", logs)])) as url:
        yield f"{url}/logs"


def write_reference(path: Path, rows: int = 2000) -> Path:
    age = RNG.normal(40, 10, rows)
    lines = ["age,income,prediction,label"]
    lines += [
        f"{a:.3f},{i:.2f},{int(a > 45)},{int(a > 45)}"
        for a, i in zip(age, RNG.lognormal(10, 0.5, rows), strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def traffic(count: int) -> list[dict[str, Any]]:
    """Inputs older than the reference's, and 30% of requests failing (80% of them ValueError)."""
    body = []
    for k, age in enumerate(RNG.normal(55, 10, count)):
        event: dict[str, Any] = {
            "request_id": f"r{k}",
            "model_version": "v3",
            "latency_ms": 40,
            "features": {"age": float(age), "income": float(RNG.lognormal(10, 0.5))},
            "prediction": int(age > 45),
        }
        if k % 10 < 3:
            kind = "timeout" if k % 50 < 3 else "ValueError"
            event |= {"error": True, "error_type": kind, "error_message": f"row {k}: 'n/a'"}
        body.append(event)
    return body


async def investigation(client: httpx.AsyncClient, model: str) -> dict[str, Any]:
    """The investigation entry of the first incident about ``model``, once it is there."""
    deadline = asyncio.get_running_loop().time() + 20
    while asyncio.get_running_loop().time() < deadline:
        items = (await client.get("/api/v1/incidents", params={"model": model})).json()["items"]
        if items:
            incident = (await client.get(f"/api/v1/incidents/{items[-1]['id']}")).json()
            found = [e for e in incident["timeline"] if e["kind"] == "investigation"]
            if found:
                assert len(found) == 1
                entry: dict[str, Any] = found[0]
                return entry
        await asyncio.sleep(0.05)
    raise AssertionError(f"no investigation recorded for an incident about {model}")


async def deploy(client: httpx.AsyncClient, model: str, *versions: str) -> None:
    for version in versions:
        reply = await client.post(f"/api/v1/models/{model}/versions", json={"version": version})
        assert reply.status_code == 201, reply.text
    for version in versions:
        reply = await client.post(f"/api/v1/models/{model}/deploy", json={"version": version})
        assert reply.status_code in (200, 201), reply.text


async def test_failing_requests_open_an_incident_that_is_investigated(
    sqlite_db: Database, tmp_path: Path, log_url: str
) -> None:
    config = FirewatchConfig.model_validate(
        {
            "models": [
                {
                    "name": "scorer",
                    "runbook": None,
                    "events": {"evaluate_every": "200ms", "min_events": 20},
                    "drift": {
                        "reference": str(write_reference(tmp_path / "reference.csv")),
                        "evaluate_every": "200ms",
                        "min_rows": 100,
                    },
                    "logs": {"url": log_url, "timeout": "5s"},
                }
            ]
        }
    )
    async with api_client(sqlite_db, SystemClock(), config=config, run_workers=True) as (
        client,
        _,
    ):
        await deploy(client, "scorer", "v1", "v2", "v3")
        sent = await client.post("/api/v1/models/scorer/events", json={"events": traffic(500)})
        assert sent.status_code == 202, sent.text
        entry = await investigation(client, "scorer")

    text = entry["event"]
    assert entry["actor"] == "firewatch:investigation"
    assert text.startswith("Investigation: 3 deploys in the 30m before; latest: v3 deployed ")
    assert " before the incident (replacing v2); data drift in 1 feature (age)" in text
    assert "error rate 30% (by error type: ValueError 80%, timeout 20%)" in text
    assert text.endswith(
        "logs: 1 crash line (OOMKilled), 1 database error (OperationalError), "
        "1 application error (ERROR)"
    )
    details = entry["details"]
    assert [d["version"] for d in details["deployments"]["recent"]] == ["v3", "v2", "v1"]
    assert details["deployments"]["live"]["version"] == "v3"
    assert "age" in details["drift"]["features"]
    assert details["signals"]["error_rate"] == pytest.approx(0.3)
    samples = details["error_samples"]["samples"]
    assert len(samples) == 10 and samples[-1]["message"] == "row 492: 'n/a'"
    assert details["logs"]["source"] == f"GET {log_url}"
    assert details["logs"]["lines"] == POD_LOG
    assert details["logs"]["matches"] == {
        "crash": [POD_LOG[3]],
        "database": [POD_LOG[2]],
        "application": [POD_LOG[1]],
    }
    assert details["problems"] == []


async def test_a_bad_deploy_caught_by_the_probe_is_investigated_with_its_pod_logs(
    sqlite_db: Database, tmp_path: Path
) -> None:
    pod_log = "; ".join(f"echo {line!r}" for line in ["OOMKilled: worker 1", "CrashLoopBackOff"])
    service = FakeModelService(sqlite_db, broken_versions={"v3"})
    with serve_in_thread(service.app()) as service_url:
        config = FirewatchConfig.model_validate(
            {
                "models": [
                    {
                        "name": "iris",
                        "health_url": f"{service_url}/health",
                        "probe": {"interval": "200ms", "timeout": "1s", "failure_threshold": 2},
                        "logs": {"command": ["sh", "-c", pod_log], "lines": 50},
                    }
                ],
                "runbooks": {"verify_timeout": "10s"},
            }
        )
        async with api_client(sqlite_db, SystemClock(), config=config, run_workers=True) as (
            client,
            _,
        ):
            await deploy(client, "iris", "v1", "v2")
            await asyncio.sleep(0.5)  # probes see v2 healthy
            await client.post("/api/v1/models/iris/versions", json={"version": "v3"})
            await client.post("/api/v1/models/iris/deploy", json={"version": "v3"})
            entry = await investigation(client, "iris")

    assert entry["event"].startswith(
        "Investigation: 3 deploys in the 30m before; latest: v3 deployed "
    )
    assert "before the incident (replacing v2); drift not monitored; " in entry["event"]
    assert entry["event"].endswith("logs: 2 crash lines (OOMKilled)")
    details = entry["details"]
    assert details["deployments"]["recent"][0]["version"] == "v3"
    assert details["deployments"]["live"]["version"] == "v3"
    assert details["logs"]["matches"]["crash"] == ["OOMKilled: worker 1", "CrashLoopBackOff"]
    assert "probe_latency_s" in details["signals"]
