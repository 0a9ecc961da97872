"""The inference-event API over a real runtime: auth, validation, unknown models, and events and
late labels becoming error-rate and accuracy incidents that say where the failures are."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from firewatch.auth.service import Scope
from firewatch.clock import FakeClock, SystemClock
from firewatch.config import FirewatchConfig
from firewatch.store.db import Database
from support.api import api_client, make_token

FAST = {"evaluate_every": "200ms", "min_events": 20, "min_labels": 20}
CONFIG = FirewatchConfig.model_validate(
    {"models": [{"name": "fraud", "events": FAST}, {"name": "churn", "events": FAST}]}
)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def event(i: int, **fields: Any) -> dict[str, Any]:
    return {"request_id": f"req-{i}", "latency_ms": 20, **fields}


async def test_events_need_an_ingest_token_a_known_model_and_a_valid_body(
    db: Database, clock: FakeClock
) -> None:
    async with api_client(db, clock, config=CONFIG, scope=None) as (client, _):
        body = {"events": [event(1, prediction="ok")]}
        url = "/api/v1/models/fraud/events"
        assert (await client.post(url, json=body)).status_code == 401
        reader = make_token(db, clock, Scope.READ, "viewer")
        assert (await client.post(url, json=body, headers=auth(reader))).status_code == 403
        token = make_token(db, clock, Scope.INGEST, "fraud-service")

        accepted = await client.post(url, json=body, headers=auth(token))
        assert accepted.status_code == 202
        assert accepted.json() == {
            "accepted": 1,
            "duplicates": 0,
            "too_old": 0,
            "waiting_for_labels": 1,
        }

        unknown = await client.post("/api/v1/models/nosuch/events", json=body, headers=auth(token))
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "unknown_model"
        assert "add it under `models:`" in unknown.json()["error"]["message"]

        bad = await client.post(
            url, json={"events": [{"request_id": "a", "latency_ms": "fast"}]}, headers=auth(token)
        )
        assert bad.status_code == 422
        assert bad.json()["error"]["details"]["errors"][0]["field"] == "$.events[0].latency_ms"
        broken = await client.post(url, content=b"{", headers=auth(token))
        assert broken.json()["error"]["code"] == "malformed_json"

        labels = await client.post(
            "/api/v1/models/fraud/labels",
            json={"labels": [{"request_id": "req-1", "label": "ok"}]},
            headers=auth(token),
        )
        assert labels.status_code == 202
        assert labels.json() == {"matched": 1, "waiting": 0, "not_judged": 0}


async def test_a_model_in_the_registry_takes_events_too(db: Database, clock: FakeClock) -> None:
    async with api_client(db, clock) as (client, _):
        registered = await client.post("/api/v1/models/ranker/versions", json={"version": "v1"})
        assert registered.status_code == 201
        answer = await client.post("/api/v1/models/ranker/events", json={"events": [event(1)]})
        assert answer.status_code == 202


async def until_incident(client: httpx.AsyncClient, model: str) -> dict[str, Any]:
    for _ in range(200):
        items = (await client.get("/api/v1/incidents", params={"model": model})).json()["items"]
        if items:
            detail: dict[str, Any] = (
                await client.get(f"/api/v1/incidents/{items[0]['id']}")
            ).json()
            return detail
        await asyncio.sleep(0.05)
    raise AssertionError(f"no incident for {model}")


async def test_events_open_an_error_rate_incident_that_says_where_it_fails(
    sqlite_db: Database,
) -> None:
    async with api_client(sqlite_db, SystemClock(), config=CONFIG, run_workers=True) as (
        client,
        _,
    ):
        good = [event(i, model_version="v1", prediction="ok") for i in range(100)]
        bad = [
            event(100 + i, model_version="v2", error=True, error_type="timeout") for i in range(30)
        ]
        fine_v2 = [event(200 + i, model_version="v2", prediction="ok") for i in range(20)]
        answer = await client.post(
            "/api/v1/models/fraud/events", json={"events": [*good, *bad, *fine_v2]}
        )
        assert answer.json()["accepted"] == 150

        incident = await until_incident(client, "fraud")
        assert incident["severity"] == "SEV2"
        assert "HighErrorRate" in incident["title"] or "error rate 20.0%" in incident["title"]
        assert "concentrated in version v2" in incident["description"]
        assert "by error type: timeout 30 (100%)" in incident["description"]


async def test_late_labels_open_an_accuracy_incident_naming_the_version(
    sqlite_db: Database,
) -> None:
    async with api_client(sqlite_db, SystemClock(), config=CONFIG, run_workers=True) as (
        client,
        _,
    ):
        predictions = [
            event(i, model_version="v7" if i % 2 else "v6", prediction="legit") for i in range(80)
        ]
        await client.post("/api/v1/models/churn/events", json={"events": predictions})
        await asyncio.sleep(0.5)
        assert (await client.get("/api/v1/incidents")).json()["items"] == []
        # ground truth arrives later: every v7 prediction of a fraud case was wrong
        truth = [
            {"request_id": f"req-{i}", "label": "fraud" if i % 2 else "legit"} for i in range(80)
        ]
        joined = await client.post("/api/v1/models/churn/labels", json={"labels": truth})
        assert joined.json()["matched"] == 80

        incident = await until_incident(client, "churn")
        assert "accuracy 50.0%" in incident["title"]
        assert "by version: v7 100.0% wrong of 40, v6 0.0% wrong of 40" in incident["description"]
        assert "by label: fraud 100.0% wrong of 40" in incident["description"]
