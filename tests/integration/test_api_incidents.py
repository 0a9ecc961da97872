"""The incident API on SQLite and PostgreSQL: contracts, auth scopes and bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from firewatch.auth.models import ApiTokenRow
from firewatch.auth.service import Scope
from firewatch.clock import FakeClock
from firewatch.config import FirewatchConfig
from firewatch.people.schemas import PersonIn
from firewatch.store import events as event_log
from firewatch.store.db import Database
from support.api import api_client, make_token

DECLARE = {
    "title": "Accuracy dropped",
    "severity": "HIGH",
    "model": "iris",
    "description": "92% -> 78%",
}


def event_count(db: Database) -> int:
    with db.read_session() as s:
        return len(event_log.read_events(s, after=0, limit=100_000))


async def test_declare_show_list_and_the_seed_record(db: Database, clock: FakeClock) -> None:
    async with api_client(db, clock) as (client, _):
        created = await client.post("/api/v1/incidents", json=DECLARE)
        assert created.status_code == 201, created.text
        body = created.json()
        for field in (
            "id",
            "timestamp",
            "severity",
            "title",
            "description",
            "status",
            "assigned_to",
            "timeline",
            "root_cause",
            "resolution",
            "resolution_time_minutes",
            "model",
            "model_version",
            "signals",
            "sla",
        ):
            assert field in body
        assert body["id"] == "INC-2026-001" and body["severity"] == "SEV2"
        assert body["status"] == "triggered"
        assert body["timeline"][0]["kind"] == "declared"
        assert body["sla"]["response_due_at"] == "2026-01-15T15:00:00Z"
        shown = await client.get("/api/v1/incidents/inc-2026-001")
        assert shown.json()["id"] == "INC-2026-001"
        listing = await client.get(
            "/api/v1/incidents", params={"severity": "SEV2,SEV1", "status": "triggered"}
        )
        assert listing.json()["total"] == 1
        none = await client.get("/api/v1/incidents", params={"model": "other"})
        assert none.json() == {"items": [], "total": 0, "limit": 50, "offset": 0}


async def test_lifecycle_over_the_api(db: Database, clock: FakeClock) -> None:
    config = FirewatchConfig.model_validate({"people": [{"handle": "john_doe", "name": "John"}]})
    async with api_client(db, clock, config=config) as (client, _):
        ref = (await client.post("/api/v1/incidents", json=DECLARE)).json()["id"]
        clock.advance(minutes=3)
        acked = await client.post(f"/api/v1/incidents/{ref}/acknowledge")
        assert acked.json()["status"] == "acknowledged"
        assigned = await client.post(f"/api/v1/incidents/{ref}/assign", json={"person": "john_doe"})
        assert assigned.json()["assigned_to"] == "john_doe"
        await client.post(
            f"/api/v1/incidents/{ref}/assign", json={"person": "john_doe", "role": "commander"}
        )
        await client.post(f"/api/v1/incidents/{ref}/notes", json={"text": "Investigation started"})
        await client.patch(f"/api/v1/incidents/{ref}", json={"root_cause": "data drift"})
        raised = await client.post(f"/api/v1/incidents/{ref}/severity", json={"severity": "SEV1"})
        assert raised.json()["severity"] == "SEV1"
        clock.advance(minutes=47)
        done = await client.post(
            f"/api/v1/incidents/{ref}/resolve", json={"resolution": "Rolled back to v1.1.0"}
        )
        body = done.json()
        assert body["status"] == "resolved" and body["resolution_time_minutes"] == 50
        assert body["roles"]["commander"]["handle"] == "john_doe"
        kinds = [e["kind"] for e in body["timeline"]]
        assert kinds == [
            "declared",
            "acknowledged",
            "assigned",
            "assigned",
            "note",
            "root_cause_identified",
            "severity_changed",
            "resolved",
        ]
        stats = (await client.get("/api/v1/stats")).json()
        assert stats["mtta_minutes"] == 3 and stats["mttr_minutes"] == 50
        postmortem = await client.get(f"/api/v1/incidents/{ref}/postmortem")
        assert postmortem.headers["content-type"].startswith("text/markdown")
        assert "### What happened?" in postmortem.text


async def test_invalid_transition_is_409_naming_allowed_and_changes_nothing(
    db: Database, clock: FakeClock
) -> None:
    async with api_client(db, clock) as (client, _):
        ref = (await client.post("/api/v1/incidents", json=DECLARE)).json()["id"]
        before = event_count(db)
        response = await client.post(
            f"/api/v1/incidents/{ref}/transition", json={"status": "closed"}
        )
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "invalid_transition"
        assert error["details"]["allowed"] == [
            "acknowledged",
            "investigating",
            "mitigated",
            "resolved",
        ]
        assert "allowed from triggered" in error["message"]
        assert event_count(db) == before
        unknown = await client.post(
            f"/api/v1/incidents/{ref}/transition", json={"status": "exploded"}
        )
        assert unknown.status_code == 422 and "unknown status" in unknown.json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "code"),
    [
        ("post", "/api/v1/incidents", b"{not json", 400, "malformed_json"),
        ("post", "/api/v1/incidents", {"title": "x"}, 422, "invalid_input"),
        ("post", "/api/v1/incidents", {"title": "x", "severity": "P0"}, 422, "invalid_input"),
        ("post", "/api/v1/incidents", {"title": 5, "severity": "SEV1"}, 422, "invalid_input"),
        (
            "post",
            "/api/v1/incidents",
            {"title": "x", "severity": "SEV1", "extra": 1},
            422,
            "invalid_input",
        ),
        ("post", "/api/v1/incidents", [1, 2], 422, "invalid_input"),
        (
            "post",
            "/api/v1/incidents",
            {"title": "x", "severity": "SEV1", "assigned_to": "ghost"},
            404,
            "unknown_person",
        ),
        ("get", "/api/v1/incidents/INC-2026-999", None, 404, "unknown_incident"),
        ("get", "/api/v1/incidents/DROP TABLE", None, 404, "unknown_incident"),
        ("get", "/api/v1/incidents?limit=0", None, 422, "invalid_input"),
        ("get", "/api/v1/incidents?since=yesterday", None, 422, "invalid_input"),
        ("get", "/api/v1/incidents?since=2026-01-01T00:00:00", None, 422, "invalid_input"),
        ("get", "/api/v1/incidents?severity=P9", None, 422, "invalid_input"),
        ("get", "/api/v1/incidents?offset=99999999999999999999", None, 422, "invalid_input"),
        ("get", "/api/v1/stats?since=0001-01-01T00:00:00%2B14:00", None, 422, "invalid_input"),
        ("patch", "/api/v1/incidents/INC-2026-001", {}, 422, "invalid_input"),
        (
            "post",
            "/api/v1/incidents/INC-2026-001/severity",
            {"severity": "SEV4"},
            422,
            "reason_required",
        ),
        ("post", "/api/v1/incidents/INC-2026-001/notes", {"text": ""}, 422, "invalid_input"),
        ("get", "/api/v1/nothing-here", None, 404, "not_found"),
        ("delete", "/api/v1/incidents", None, 405, "method_not_allowed"),
    ],
)
async def test_bad_input_gets_a_clear_4xx_and_changes_nothing(
    db: Database, clock: FakeClock, method: str, path: str, payload: object, status: int, code: str
) -> None:
    async with api_client(db, clock) as (client, _):
        await client.post("/api/v1/incidents", json={**DECLARE, "severity": "SEV1"})
        before = event_count(db)
        kwargs: dict[str, object] = {}
        if isinstance(payload, bytes):
            kwargs = {"content": payload, "headers": {"content-type": "application/json"}}
        elif payload is not None:
            kwargs = {"json": payload}
        response = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
        assert response.json()["error"]["message"]
        assert event_count(db) == before


async def test_tokens_scopes_and_hashing(db: Database, clock: FakeClock) -> None:
    async with api_client(db, clock, scope=None) as (client, _):
        missing = await client.get("/api/v1/incidents")
        assert (
            missing.status_code == 401
            and "firewatch token create" in missing.json()["error"]["message"]
        )
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = await client.get("/api/v1/incidents", headers={"Authorization": "Bearer fw_nope"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_token"
        reader = make_token(db, clock, Scope.READ, "viewer")
        headers = {"Authorization": f"Bearer {reader}"}
        assert (await client.get("/api/v1/incidents", headers=headers)).status_code == 200
        denied = await client.post("/api/v1/incidents", json=DECLARE, headers=headers)
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "insufficient_scope"
        assert event_count(db) == 0
        writer = make_token(db, clock, Scope.WRITE, "bot")
        people = await client.put(
            "/api/v1/people", json={"handle": "x"}, headers={"Authorization": f"Bearer {writer}"}
        )
        assert people.status_code == 403  # people need admin
        # Open endpoints stay open.
        assert (await client.get("/health")).json() == {"status": "ok"}
        assert (await client.get("/ready")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200
        assert (await client.get("/openapi.json")).json()["info"]["title"] == "Firewatch"
    with db.read_session() as s:
        hashes = list(s.scalars(select(ApiTokenRow.token_hash)))
        assert s.scalar(select(func.count()).select_from(ApiTokenRow)) == 2
    assert reader not in hashes and all(len(h) == 64 for h in hashes)


async def test_metrics_can_require_a_token(db: Database, clock: FakeClock) -> None:
    config = FirewatchConfig.model_validate({"server": {"metrics_require_token": True}})
    async with api_client(db, clock, config=config) as (client, _):
        open_client_response = await client.get("/metrics", headers={"Authorization": ""})
        assert open_client_response.status_code == 401
        metrics = await client.get("/metrics")
        assert "firewatch_incidents_open" in metrics.text


async def test_models_api(db: Database, clock: FakeClock) -> None:
    async with api_client(db, clock) as (client, _):
        for version in ("v1", "v2"):
            r = await client.post(
                "/api/v1/models/iris/versions",
                json={"version": version, "metadata": {"algorithm": "logistic_regression"}},
            )
            assert r.status_code == 201, r.text
        assert (
            await client.post("/api/v1/models/iris/deploy", json={"version": "v1"})
        ).status_code == 200
        deployed = await client.post(
            "/api/v1/models/iris/deploy", json={"version": "v2", "reason": "better"}
        )
        assert deployed.json()["previous_version"] == "v1"
        dup = await client.post("/api/v1/models/iris/versions", json={"version": "v1"})
        assert dup.status_code == 409
        bad = await client.post("/api/v1/models/iris/versions", json={"version": "v 1!"})
        assert bad.status_code == 422
        missing = await client.post("/api/v1/models/iris/deploy", json={"version": "v9"})
        assert missing.status_code == 404 and missing.json()["error"]["details"][
            "known_versions"
        ] == ["v1", "v2"]
        no_good = await client.post("/api/v1/models/iris/rollback", json={})
        assert no_good.status_code == 409 and no_good.json()["error"]["code"] == "no_good_version"
        explicit = await client.post("/api/v1/models/iris/rollback", json={"to": "v1"})
        assert explicit.json()["kind"] == "rollback"
        model = (await client.get("/api/v1/models/iris")).json()
        assert model["aliases"] == {"production": "v1"}
        history = (await client.get("/api/v1/models/iris/history")).json()
        assert [h["version"] for h in history] == ["v1", "v2", "v1"]
        assert (await client.get("/api/v1/models/nope")).status_code == 404


def test_person_schema_rejects_bad_handles() -> None:
    with pytest.raises(ValueError, match="lowercase"):
        PersonIn(handle="John Doe")
