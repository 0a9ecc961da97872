"""The ingest endpoints over a real runtime: auth, validation, durability, and alerts becoming
incidents through the processor (Alertmanager, Grafana, PagerDuty Events v2)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from firewatch.alerts.journal import open_journal
from firewatch.auth.service import Scope
from firewatch.clock import FakeClock, SystemClock
from firewatch.config import FirewatchConfig
from firewatch.store.db import Database
from support.api import api_client, make_token

FIXTURES = Path(__file__).parents[1] / "fixtures"
CONFIG = FirewatchConfig.model_validate({"incidents": {"resolve_quiet_period": "1s"}})


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def logged(db: Database) -> int:
    """Alerts in the journal (a file of its own on SQLite, a table on PostgreSQL)."""
    return open_journal(db).backlog()[0]


async def until(predicate: Callable[[], Any], timeout: float = 10) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_an_accepted_alert_is_committed_before_the_answer(
    db: Database, clock: FakeClock
) -> None:
    async with api_client(db, clock, scope=None) as (client, _):  # workers off: nothing processes
        token = make_token(db, clock, Scope.INGEST, "alertmanager")
        response = await client.post(
            "/api/v1/integrations/alertmanager",
            content=fixture("alertmanager/captured_firing.json"),
            headers=auth(token),
        )
        assert response.status_code == 200
        assert response.json() == {"status": "success", "accepted": 1}
        assert logged(db) == 1


async def test_ingest_scope_can_send_alerts_and_nothing_else(
    db: Database, clock: FakeClock
) -> None:
    async with api_client(db, clock, scope=None) as (client, _):
        body = fixture("alertmanager/captured_firing.json")
        assert (
            await client.post("/api/v1/integrations/alertmanager", content=body)
        ).status_code == 401
        reader = make_token(db, clock, Scope.READ, "viewer")
        denied = await client.post(
            "/api/v1/integrations/alertmanager", content=body, headers=auth(reader)
        )
        assert denied.status_code == 403
        ingest = make_token(db, clock, Scope.INGEST, "am")
        assert (await client.get("/api/v1/incidents", headers=auth(ingest))).status_code == 403
        writer = make_token(db, clock, Scope.WRITE, "bot")
        assert (
            await client.post(
                "/api/v1/integrations/grafana",
                content=fixture("grafana/webhook_firing.json"),
                headers=auth(writer),
            )
        ).status_code == 200
        assert logged(db) > 0


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{nope", "malformed_json"),
        (b'{"version": "4"}', "invalid_input"),
        (b'{"version": "3", "alerts": []}', "invalid_input"),
        (
            b'{"version": "4", "alerts": [{"labels": {"alertname": 5}, "status": "firing", "startsAt": "2026-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z"}]}',
            "invalid_input",
        ),
    ],
)
async def test_malformed_webhooks_are_refused_and_nothing_is_logged(
    db: Database, clock: FakeClock, body: bytes, problem: str
) -> None:
    async with api_client(db, clock, scope=None) as (client, _):
        token = make_token(db, clock, Scope.INGEST, "am")
        response = await client.post(
            "/api/v1/integrations/alertmanager", content=body, headers=auth(token)
        )
        assert response.status_code in (400, 422)
        assert response.json()["error"]["code"] == problem
        assert logged(db) == 0


async def test_alertmanager_firing_then_resolved_opens_and_resolves_one_incident(
    sqlite_db: Database,
) -> None:
    async with api_client(sqlite_db, SystemClock(), config=CONFIG, run_workers=True) as (client, _):
        token = make_token(sqlite_db, SystemClock(), Scope.INGEST, "am")
        for _ in range(3):  # Alertmanager re-sends: still one incident
            r = await client.post(
                "/api/v1/integrations/alertmanager",
                content=fixture("alertmanager/captured_firing.json"),
                headers=auth(token),
            )
            assert r.status_code == 200

        async def opened() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = (await client.get("/api/v1/incidents")).json()["items"]
            return items

        [incident] = await until(opened)
        assert incident["severity"] == "SEV1" and incident["model"] == "iris"
        await client.post(
            "/api/v1/integrations/alertmanager",
            content=fixture("alertmanager/captured_resolved.json"),
            headers=auth(token),
        )

        async def resolved() -> bool:
            body = (await client.get(f"/api/v1/incidents/{incident['id']}")).json()
            return bool(body["status"] == "resolved")

        await until(resolved)
        assert (await client.get("/api/v1/incidents")).json()["total"] == 1
        alerts = (await client.get("/api/v1/alerts")).json()
        assert alerts[0]["labels"]["source"] == "alertmanager"
        assert alerts[0]["labels"]["upstream_severity"] == "critical"
        assert alerts[0]["status"] == "resolved"


def pagerduty(
    action: str, token: str, dedup_key: str | None = "disk-full-1", **payload: Any
) -> bytes:
    body: dict[str, Any] = {"routing_key": token, "event_action": action}
    if dedup_key:
        body["dedup_key"] = dedup_key
    if action == "trigger":
        body["payload"] = {
            "summary": "Feature store disk full",
            "source": "featurestore",
            "severity": "critical",
            "custom_details": {"model": "iris"},
            **payload,
        }
    return orjson.dumps(body)


@pytest.mark.parametrize("path", ["/api/v1/integrations/pagerduty", "/v2/enqueue"])
async def test_pagerduty_events_v2_semantics(sqlite_db: Database, path: str) -> None:
    async with api_client(sqlite_db, SystemClock(), config=CONFIG, run_workers=True) as (client, _):
        token = make_token(sqlite_db, SystemClock(), Scope.INGEST, "featurestore")
        trigger = await client.post(path, content=pagerduty("trigger", token))
        assert trigger.status_code == 202
        assert trigger.json() == {
            "status": "success",
            "message": "Event processed",
            "dedup_key": "disk-full-1",
        }
        no_key = await client.post(
            path, content=pagerduty("trigger", token, dedup_key=None, severity="warning")
        )
        assert len(no_key.json()["dedup_key"]) == 32  # generated, as PagerDuty does

        async def incident() -> dict[str, Any] | None:
            items = (await client.get("/api/v1/incidents")).json()["items"]
            return items[0] if items else None

        opened = await until(incident)
        assert opened["severity"] == "SEV1" and opened["model"] == "iris"
        assert (await client.post(path, content=pagerduty("acknowledge", token))).status_code == 202

        async def acknowledged() -> bool:
            return bool(
                (await client.get(f"/api/v1/incidents/{opened['id']}")).json()["acknowledged_at"]
            )

        await until(acknowledged)
        bad_key = await client.post(path, content=pagerduty("trigger", "fw_not-a-key"))
        assert bad_key.status_code == 400
        assert (
            bad_key.json()["status"] == "invalid event"
            and bad_key.json()["error"]["code"] == "invalid_routing_key"
        )
        invalid = await client.post(
            path, content=orjson.dumps({"routing_key": token, "event_action": "explode"})
        )
        assert invalid.status_code == 400
        assert any("event_action" in e for e in invalid.json()["errors"])
        assert (await client.post(path, content=b"x" * (600 * 1024))).status_code == 413


async def test_grafana_webhook_opens_an_incident(sqlite_db: Database) -> None:
    async with api_client(sqlite_db, SystemClock(), config=CONFIG, run_workers=True) as (client, _):
        token = make_token(sqlite_db, SystemClock(), Scope.INGEST, "grafana")
        r = await client.post(
            "/api/v1/integrations/grafana",
            content=fixture("grafana/webhook_firing.json"),
            headers=auth(token),
        )
        assert r.status_code == 200 and r.json()["accepted"] >= 1

        async def opened() -> list[Any]:
            items: list[Any] = (await client.get("/api/v1/incidents")).json()["items"]
            return items

        assert len(await until(opened)) >= 1


async def test_a_full_backlog_slows_senders_then_refuses_with_retry_after(
    db: Database, clock: FakeClock
) -> None:
    config = FirewatchConfig.model_validate({"alerts": {"max_backlog": 2, "backlog_wait": "0.3s"}})
    async with api_client(db, clock, scope=None, config=config) as (client, runtime):
        token = make_token(db, clock, Scope.INGEST, "am")
        body = fixture("alertmanager/captured_firing.json")

        async def send() -> Any:
            return await client.post(
                "/api/v1/integrations/alertmanager", content=body, headers=auth(token)
            )

        assert [(await send()).status_code for _ in range(2)] == [200, 200]
        refused = await send()
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        error = refused.json()["error"]
        assert error["code"] == "alert_backlog_full"
        assert "2 alerts behind (limit 2)" in error["message"]
        assert logged(db) == 2  # nothing of the refused request was kept, nothing lost

        event = orjson.loads(pagerduty("trigger", token, "k1"))
        answer = await client.post("/v2/enqueue", json=event)
        assert answer.status_code == 429  # PagerDuty's "retry later"
        assert answer.json()["status"] == "throttle event"

        # once the processor catches up, senders get in again
        pending = runtime.journal.read_pending(max_alerts=100)
        runtime.journal.forget([batch.id for batch in pending])
        await asyncio.sleep(0.25)
        assert (await send()).status_code == 200
        text = (await client.get("/metrics")).text
        assert "firewatch_ingest_refused_total 2.0" in text  # the webhook and the event
