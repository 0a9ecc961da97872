"""The foundation's end-to-end check, with real processes on loopback and 1 s probes:
a broken deploy opens exactly one SEV1 incident, pages a webhook, is rolled back by the runbook,
verified, resolved, and written up — observed through the public API only."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from support.processes import deploy_and_wait_healthy, running_stack, wait_until
from support.receiver import Receiver
from support.servers import serve_in_thread

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

EXPECTED_ORDER = [
    "detected",
    "verified",
    "action_started",
    "action_succeeded",
    "mitigated",
    "resolved",
]


def test_broken_deploy_is_detected_rolled_back_and_resolved(tmp_path: Path) -> None:
    receiver = Receiver()
    versions = [
        ("v1", ["algorithm=logistic_regression"]),
        ("v2", ["algorithm=random_forest"]),
        ("v3", ["algorithm=random_forest", "broken=crash"]),
    ]
    with (
        serve_in_thread(receiver.app()) as receiver_url,
        running_stack(tmp_path, receiver_url, versions) as stack,
        stack.client() as client,
    ):
        wait_until(
            lambda: client.get("/api/v1/models/iris").json()["production"]["first_healthy_at"],
            30,
            "v1 healthy",
        )
        deploy_and_wait_healthy(client, "iris", "v2")
        assert client.get("/api/v1/incidents").json()["total"] == 0

        fault_at = time.monotonic()
        client.post(
            "/api/v1/models/iris/deploy", json={"version": "v3", "reason": "e2e: broken build"}
        ).raise_for_status()
        listed = wait_until(
            lambda: client.get("/api/v1/incidents").json()["items"], 15, "an incident"
        )
        opened_after = time.monotonic() - fault_at
        ref = listed[0]["id"]

        def resolved() -> dict[str, Any] | None:
            incident: dict[str, Any] = client.get(f"/api/v1/incidents/{ref}").json()
            return incident if incident["status"] == "resolved" else None

        incident = wait_until(resolved, 60, "the incident to resolve", interval=0.1)
        resolved_after = time.monotonic() - fault_at
        print(f"\nfault → incident {opened_after:.2f}s; fault → resolved {resolved_after:.2f}s")

        page = client.get("/api/v1/incidents").json()
        assert page["total"] == 1, "exactly one incident"
        assert (
            incident["severity"] == "SEV1"
            and incident["model"] == "iris"
            and incident["model_version"] == "v3"
        )

        hook = wait_until(
            lambda: [
                b
                for b in receiver.bodies()
                if b["event_type"] == "incident.opened" and b["intent"] == "page"
            ],
            10,
            "the page",
        )
        assert hook[0]["incident"]["id"] == ref
        assert hook[0]["incident"]["severity"] == "SEV1"
        assert (hook[0]["incident"]["model"], hook[0]["incident"]["model_version"]) == (
            "iris",
            "v3",
        )
        assert ref in hook[0]["text"]

        kinds = [entry["kind"] for entry in incident["timeline"]]
        positions = [kinds.index(kind) for kind in EXPECTED_ORDER]
        assert positions == sorted(positions), kinds
        assert "notified" in kinds and "escalated" not in kinds
        assert client.get("/api/v1/models/iris").json()["aliases"]["production"] == "v2"
        wait_until(lambda: httpx_ok(stack.model_url), 10, "the model to serve again")

        postmortem = client.get(f"/api/v1/incidents/{ref}/postmortem").text
        for needle in (
            "## Timeline",
            "Time to resolve",
            "Time to mitigate",
            "## Model versions",
            "| v3 |",
            "rollback for " + ref,
            "### What happened?",
            "### Why did it happen?",
            "### What could prevent it?",
            "### What will we do differently?",
        ):
            assert needle in postmortem, needle
        assert "Rolled back iris from v3 to v2" in postmortem


def httpx_ok(model_url: str) -> bool:
    import httpx

    return httpx.get(f"{model_url}/health", timeout=1).status_code == 200
