"""The drills API: start a drill (409 while one runs on the model), finish it with its result,
list the history, the scenario catalogue, and clear 4xx errors for bad input."""

from __future__ import annotations

from firewatch.clock import FakeClock
from firewatch.store.db import Database
from support.api import api_client


async def test_start_finish_and_list_drills(db: Database, clock: FakeClock) -> None:
    async with api_client(db, clock) as (client, _runtime):
        body = {"scenario": "model-down", "model": "iris", "trigger": "cli", "time_limit_s": 120}
        started = await client.post("/api/v1/drills", json=body)
        assert started.status_code == 201, started.text
        run = started.json()
        assert (run["status"], run["outcome"], run["actor"]) == ("running", None, "tester")
        again = await client.post("/api/v1/drills", json=body)
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "drill_running"

        result = {
            "outcome": "fail",
            "incident": "INC-2026-001",
            "severity": "SEV1",
            "runbook": "model-unavailable",
            "times": {"detect": 2.5, "resolve": None},
            "failures": ["timeline: mitigated missing"],
            "details": {"sla": {"response_met": True}},
        }
        finished = await client.post(f"/api/v1/drills/{run['id']}/finish", json=result)
        assert finished.status_code == 200, finished.text
        assert finished.json()["status"] == "finished"
        twice = await client.post(f"/api/v1/drills/{run['id']}/finish", json=result)
        assert twice.status_code == 409

        listed = (await client.get("/api/v1/drills", params={"scenario": "model-down"})).json()
        assert [(r["id"], r["outcome"], r["times"]["detect"]) for r in listed] == [
            (run["id"], "fail", 2.5)
        ]
        assert (await client.get("/api/v1/drills", params={"scenario": "latency"})).json() == []
        one = (await client.get(f"/api/v1/drills/{run['id']}")).json()
        assert one["failures"] == ["timeline: mitigated missing"]
        scenarios = (await client.get("/api/v1/drills/scenarios")).json()
        assert {s["name"]: s["runbook"] for s in scenarios}["input-drift"] == "data-drift"


async def test_bad_drill_requests_get_clear_4xx(db: Database, clock: FakeClock) -> None:
    async with api_client(db, clock) as (client, _runtime):
        unknown = await client.post(
            "/api/v1/drills", json={"scenario": "fire", "model": "iris", "time_limit_s": 5}
        )
        assert unknown.status_code == 404
        assert "no drill scenario 'fire'" in unknown.json()["error"]["message"]
        bad = await client.post("/api/v1/drills", json={"scenario": "latency", "model": "iris"})
        assert bad.status_code == 422
        missing = await client.get("/api/v1/drills/42")
        assert missing.status_code == 404
        outcome = await client.post("/api/v1/drills/42/finish", json={"outcome": "maybe"})
        assert outcome.status_code == 422
    async with api_client(db, clock, scope=None) as (anonymous, _runtime):
        assert (await anonymous.get("/api/v1/drills")).status_code == 401
