"""The runbook API: list, show, dry run, the runs of an incident, decisions, bad input."""

from __future__ import annotations

from firewatch.auth.service import Scope
from firewatch.clock import FakeClock
from firewatch.store.db import Database
from support.api import api_client


async def test_runbooks_are_listed_shown_and_walked(db: Database, clock: FakeClock) -> None:
    async with api_client(db, clock) as (client, _):
        listed = (await client.get("/api/v1/runbooks")).json()
        names = [r["name"] for r in listed["items"]]
        assert names == [
            "accuracy-degradation",
            "data-drift",
            "high-error-rate",
            "model-unavailable",
            "slow-responses",
        ]
        assert listed["broken"] == {}
        shown = (await client.get("/api/v1/runbooks/accuracy-degradation")).json()
        assert shown["definition"]["alert"] == ["AccuracyLow"]
        assert "Short-term - roll back the model" in shown["markdown"]
        assert (await client.get("/api/v1/runbooks/nope")).status_code == 404

        walked = await client.post(
            "/api/v1/runbooks/slow-responses/dry-run", json={"severity": "SEV3"}
        )
        assert walked.status_code == 200, walked.text
        steps = {s["step"]: s for s in walked.json()["steps"]}
        assert steps["rollback"]["mode"] == "needs approval"
        assert steps["resources"]["mode"] == "manual"
        unknown_model = await client.post(
            "/api/v1/runbooks/slow-responses/dry-run", json={"model": "nope"}
        )
        assert unknown_model.status_code == 404
        assert "no model 'nope'" in unknown_model.json()["error"]["message"]
        bad = await client.post("/api/v1/runbooks/slow-responses/dry-run", json={"severity": "P0"})
        assert bad.status_code == 422


async def test_runs_and_decisions_on_an_incident(db: Database, clock: FakeClock) -> None:
    async with api_client(db, clock) as (client, _):
        ref = (
            await client.post("/api/v1/incidents", json={"title": "Drift", "severity": "SEV3"})
        ).json()["id"]
        assert (await client.get(f"/api/v1/incidents/{ref}/runbooks")).json() == []
        started = await client.post(
            f"/api/v1/incidents/{ref}/runbooks", json={"runbook": "data-drift"}
        )
        assert started.status_code == 202 and started.json()["status"] == "queued"
        again = await client.post(
            f"/api/v1/incidents/{ref}/runbooks", json={"runbook": "data-drift"}
        )
        assert again.status_code == 409
        unknown = await client.post(f"/api/v1/incidents/{ref}/runbooks", json={"runbook": "nope"})
        assert unknown.status_code == 404
        not_run = await client.post(
            f"/api/v1/incidents/{ref}/runbooks/high-error-rate/steps/rollback",
            json={"decision": "approve"},
        )
        assert not_run.status_code == 404
        assert "has not run" in not_run.json()["error"]["message"]
        wrong = await client.post(
            f"/api/v1/incidents/{ref}/runbooks/data-drift/steps/retrain",
            json={"decision": "maybe"},
        )
        assert wrong.status_code == 422


async def test_decisions_need_write_access(db: Database, clock: FakeClock) -> None:
    async with api_client(db, clock, scope=Scope.READ) as (client, _):
        denied = await client.post(
            "/api/v1/incidents/INC-2026-001/runbooks/data-drift/steps/retrain",
            json={"decision": "approve"},
        )
        assert denied.status_code == 403
