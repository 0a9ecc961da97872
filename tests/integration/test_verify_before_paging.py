"""Verify before paging: an Alertmanager alert about a model Firewatch can reach is checked against
the model (health re-probed, /metrics re-read) and the page carries the outcome; one that cannot
be confirmed is kept and paged as unverified, never dropped."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from firewatch.auth.service import Scope
from firewatch.clock import SystemClock
from firewatch.config import FirewatchConfig
from firewatch.store.db import Database
from support.api import api_client, make_token
from support.model_server import FakeModelService
from support.receiver import Receiver
from support.servers import serve_in_thread

ALERT = (Path(__file__).parents[1] / "fixtures/alertmanager/captured_firing.json").read_bytes()


def config_for(service_url: str, receiver_url: str, **alerts: Any) -> FirewatchConfig:
    return FirewatchConfig.model_validate(
        {
            "models": [
                {
                    "name": "iris",
                    "health_url": f"{service_url}/health",
                    "metrics_url": f"{service_url}/metrics",
                    "probe": {"interval": "200ms", "failure_threshold": 1000},
                    "scrape": {"interval": "200ms", "window": "5s"},
                    "runbook": None,
                }
            ],
            "channels": [{"type": "webhook", "name": "oncall", "url": f"{receiver_url}/hook"}],
            "notify": {
                "channels_for": {
                    "page": ["oncall"],
                    "chat": ["oncall"],
                    "email": ["oncall"],
                    "ticket": ["oncall"],
                }
            },
            "alerts": alerts,
            # Firewatch's own error-rate rule would open the incident itself; here it waits
            "rules": [
                {"name": "HighErrorRate", "signal": "error_rate", "threshold": 0.05, "for": "1h"},
                {
                    "name": "ErrorRateAnomaly",
                    "enabled": False,
                    "signal": "error_rate",
                    "condition": "anomaly",
                },
            ],
        }
    )


@contextlib.asynccontextmanager
async def traffic(service: FakeModelService, error_share: float) -> AsyncIterator[None]:
    """The service keeps serving: counters grow every 100 ms with the given share of failures."""

    async def grow() -> None:
        counts = service.versions["v1"]
        while True:
            counts.requests += 100
            counts.errors += 100 * error_share
            await asyncio.sleep(0.1)

    task = asyncio.create_task(grow())
    try:
        await asyncio.sleep(1.0)  # a few scrapes: the window has a rate
        yield
    finally:
        task.cancel()


async def timeline(client: httpx.AsyncClient) -> tuple[str, list[dict[str, Any]]]:
    for _ in range(200):
        items = (await client.get("/api/v1/incidents")).json()["items"]
        if items:
            ref = items[0]["id"]
            entries = (await client.get(f"/api/v1/incidents/{ref}")).json()["timeline"]
            if any(e["kind"] in ("verified", "unverified") for e in entries):
                return ref, entries
        await asyncio.sleep(0.05)
    raise AssertionError("no verification recorded")


async def pages(receiver: Receiver) -> list[dict[str, Any]]:
    for _ in range(200):
        if receiver.bodies():
            return receiver.bodies()
        await asyncio.sleep(0.05)
    raise AssertionError("nobody was notified")


async def send_alert(client: httpx.AsyncClient, token: str) -> None:
    answer = await client.post(
        "/api/v1/integrations/alertmanager",
        content=ALERT,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200


async def test_a_confirmed_alert_pages_with_what_confirmed_it(sqlite_db: Database) -> None:
    service, receiver = FakeModelService(sqlite_db), Receiver()
    with (
        serve_in_thread(service.app()) as service_url,
        serve_in_thread(receiver.app()) as receiver_url,
    ):
        config = config_for(service_url, receiver_url)
        async with (
            api_client(sqlite_db, SystemClock(), config=config, run_workers=True) as (client, _),
            traffic(service, error_share=0.3),
        ):
            await send_alert(client, make_token(sqlite_db, SystemClock(), Scope.INGEST, "am"))
            _, entries = await timeline(client)
            kinds = [e["kind"] for e in entries]
            assert kinds.index("detected") < kinds.index("verified")
            verified = entries[kinds.index("verified")]
            assert verified["event"].startswith("HighErrorRate from alertmanager: Confirmed:")
            assert "error_rate 30.0% (above 5.0% is HighErrorRate)" in verified["event"]
            checks = {c["check"]: c for c in verified["details"]["checks"]}
            assert checks["health"]["ok"] is True and checks["error_rate"]["ok"] is False

            page = (await pages(receiver))[0]
            assert "Confirmed:" in page["text"] and "UNVERIFIED" not in page["text"]


async def test_an_alert_that_cannot_be_confirmed_is_kept_and_paged_as_unverified(
    sqlite_db: Database,
) -> None:
    service, receiver = FakeModelService(sqlite_db), Receiver()
    with (
        serve_in_thread(service.app()) as service_url,
        serve_in_thread(receiver.app()) as receiver_url,
    ):
        config = config_for(service_url, receiver_url)
        async with (
            api_client(sqlite_db, SystemClock(), config=config, run_workers=True) as (client, _),
            traffic(service, error_share=0.0),
        ):
            await send_alert(client, make_token(sqlite_db, SystemClock(), Scope.INGEST, "am"))
            ref, entries = await timeline(client)
            unverified = next(e for e in entries if e["kind"] == "unverified")
            assert "Not confirmed: health check OK" in unverified["event"]
            assert "error_rate 0.0% (above 5.0% is HighErrorRate)" in unverified["event"]
            assert unverified["event"].endswith("kept and notified as unverified")

            page = (await pages(receiver))[0]
            assert "UNVERIFIED" in page["text"]
            incident = (await client.get(f"/api/v1/incidents/{ref}")).json()
            assert incident["status"] == "triggered" and incident["severity"] == "SEV1"


async def test_without_verification_the_page_goes_at_once(sqlite_db: Database) -> None:
    service, receiver = FakeModelService(sqlite_db), Receiver()
    with (
        serve_in_thread(service.app()) as service_url,
        serve_in_thread(receiver.app()) as receiver_url,
    ):
        config = config_for(service_url, receiver_url, verify_external=False)
        async with api_client(sqlite_db, SystemClock(), config=config, run_workers=True) as (
            client,
            _,
        ):
            await send_alert(client, make_token(sqlite_db, SystemClock(), Scope.INGEST, "am"))
            page = (await pages(receiver))[0]
            assert "UNVERIFIED" not in page["text"]
            ref = (await client.get("/api/v1/incidents")).json()["items"][0]["id"]
            entries = (await client.get(f"/api/v1/incidents/{ref}")).json()["timeline"]
            assert not any(e["kind"] in ("verified", "unverified") for e in entries)
