"""The whole loop in one process with real HTTP: probe → incident → notify → runbook → resolve."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from firewatch.clock import SystemClock
from firewatch.config import FirewatchConfig
from firewatch.store.db import Database
from support.api import api_client
from support.model_server import FakeModelService
from support.receiver import Receiver
from support.servers import serve_in_thread


def config_for(service_url: str, receiver_url: str) -> FirewatchConfig:
    return FirewatchConfig.model_validate(
        {
            "models": [
                {
                    "name": "iris",
                    "health_url": f"{service_url}/health",
                    "probe": {"interval": "200ms", "timeout": "1s", "failure_threshold": 2},
                    # versions here serve healthily for half a second before the next deploy
                    "rollback": {"min_healthy_time": "200ms"},
                }
            ],
            "channels": [
                {"type": "console", "name": "console"},
                {"type": "webhook", "name": "oncall", "url": f"{receiver_url}/hook"},
            ],
            "notify": {
                "channels_for": {
                    "page": ["oncall"],
                    "chat": ["console"],
                    "email": ["console"],
                    "ticket": ["console"],
                }
            },
            "incidents": {"resolve_quiet_period": "1s"},
            "runbooks": {"verify_timeout": "10s"},
        }
    )


async def wait_for(predicate: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def incidents(client: httpx.AsyncClient) -> list[dict[str, object]]:
    items: list[dict[str, object]] = (await client.get("/api/v1/incidents")).json()["items"]
    return items


async def test_bad_deploy_is_rolled_back_verified_and_resolved(sqlite_db: Database) -> None:
    service = FakeModelService(sqlite_db, broken_versions={"v3"})
    receiver = Receiver()
    with (
        serve_in_thread(service.app()) as service_url,
        serve_in_thread(receiver.app()) as receiver_url,
    ):
        config = config_for(service_url, receiver_url)
        async with api_client(sqlite_db, SystemClock(), config=config, run_workers=True) as (
            client,
            _,
        ):
            for version in ("v1", "v2", "v3"):
                await client.post("/api/v1/models/iris/versions", json={"version": version})
            for version in ("v1", "v2"):
                await client.post("/api/v1/models/iris/deploy", json={"version": version})
                await asyncio.sleep(0.5)  # probes see it healthy
            await client.post("/api/v1/models/iris/deploy", json={"version": "v3"})
            await wait_for(lambda: bool(receiver.bodies()))
            listed = await incidents(client)
            assert len(listed) == 1 and listed[0]["severity"] == "SEV1"
            ref = listed[0]["id"]
            page = receiver.bodies()[0]
            assert page["intent"] == "page" and page["incident"]["id"] == ref
            assert page["incident"]["model"] == "iris" and page["incident"]["model_version"] == "v3"
            assert "SEV1" in page["text"]

            async def resolved() -> bool:
                body: dict[str, Any] = (await client.get(f"/api/v1/incidents/{ref}")).json()
                return bool(body["status"] == "resolved")

            deadline = asyncio.get_running_loop().time() + 30
            while not await resolved():
                if asyncio.get_running_loop().time() > deadline:
                    for e in (await client.get(f"/api/v1/incidents/{ref}")).json()["timeline"]:
                        print("TL", e["time"], e["kind"], e["event"])
                    raise AssertionError("incident did not resolve")
                await asyncio.sleep(0.1)
            incident = (await client.get(f"/api/v1/incidents/{ref}")).json()
            kinds = [e["kind"] for e in incident["timeline"]]
            for expected in (
                "detected",
                "runbook_started",
                "verified",
                "check",
                "action_started",
                "action_succeeded",
                "mitigated",
                "alert_resolved",
                "resolved",
            ):
                assert expected in kinds, (expected, kinds)
            assert (
                kinds.index("detected")
                < kinds.index("verified")
                < kinds.index("action_succeeded")
                < kinds.index("mitigated")
                < kinds.index("resolved")
            )
            assert "notified" in kinds and "escalated" not in kinds
            model = (await client.get("/api/v1/models/iris")).json()
            assert model["aliases"]["production"] == "v2"
            assert "Rolled back iris from v3 to v2" in incident["resolution"]
            still_open = await client.get(
                "/api/v1/incidents",
                params={"status": "triggered,acknowledged,investigating,mitigated"},
            )
            assert still_open.json()["total"] == 0
            assert (
                len(
                    (await client.get("/api/v1/incidents", params={"status": "resolved"})).json()[
                        "items"
                    ]
                )
                == 1
            )


async def test_outage_without_a_deploy_escalates_and_does_not_roll_back(
    sqlite_db: Database,
) -> None:
    service = FakeModelService(sqlite_db)
    receiver = Receiver()
    with (
        serve_in_thread(service.app()) as service_url,
        serve_in_thread(receiver.app()) as receiver_url,
    ):
        config = config_for(service_url, receiver_url)
        config.runbooks.recent_deploy_window = timedelta(seconds=1)
        async with api_client(sqlite_db, SystemClock(), config=config, run_workers=True) as (
            client,
            _,
        ):
            for version in ("v1", "v2"):
                await client.post("/api/v1/models/iris/versions", json={"version": version})
                await client.post("/api/v1/models/iris/deploy", json={"version": version})
                await asyncio.sleep(0.6)
            await asyncio.sleep(1.0)  # the deploy is now older than the window
            service.outage = True

            async def escalated() -> dict[str, Any] | None:
                listed = await incidents(client)
                if not listed:
                    return None
                one: dict[str, Any] = (
                    await client.get(f"/api/v1/incidents/{listed[0]['id']}")
                ).json()
                return (
                    one if any(e["kind"] == "runbook_finished" for e in one["timeline"]) else None
                )

            deadline = asyncio.get_running_loop().time() + 20
            while (incident := await escalated()) is None:
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.1)
            kinds = [e["kind"] for e in incident["timeline"]]
            assert (
                "escalated" in kinds and "action_started" not in kinds and "mitigated" not in kinds
            )
            escalation = next(e for e in incident["timeline"] if e["kind"] == "escalated")
            assert "no deploy in the" in escalation["event"]
            assert (await client.get("/api/v1/models/iris")).json()["aliases"]["production"] == "v2"
            await wait_for(
                lambda: any(b["event_type"] == "incident.escalated" for b in receiver.bodies())
            )
