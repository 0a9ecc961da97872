"""Every drill scenario against real processes: Firewatch, the demo model and its traffic (with
true labels), short windows. `firewatch drill run all` plays the on-call person; each drill must
end in its named end state, run by its named runbook, with its timeline kinds in order — and
drill incidents stay out of the real statistics."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from firewatch.auth import service as auth_service
from firewatch.demo.stack import DEMO_VERSIONS
from firewatch.detect.rule_config import builtin_rules
from firewatch.drills.scenarios import SCENARIOS, in_order
from firewatch.store.db import Database
from support.processes import deploy_and_wait_healthy, running_stack, wait_until
from support.receiver import Receiver
from support.servers import serve_in_thread

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

FAST_CLEAR = ("DataDrift", "PredictionDrift", "LabelDrift", "DataQuality")
RETRAIN = "import os, pathlib; pathlib.Path('retrain.log').open('a').write(os.environ['FIREWATCH_ACTION'] + '\\n')"


def _rules() -> list[dict[str, Any]]:
    """The built-ins with short windows: slow is 500 ms for 2 s; drift alerts clear in 3 s."""
    rules = []
    for rule in builtin_rules():
        data = rule.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        if rule.name == "SlowResponses":
            data |= {"threshold": 0.5, "for": "2s"}
        elif rule.name in FAST_CLEAR:
            data["keep_firing_for"] = "3s"
        else:
            continue
        rules.append(data)
    return rules


def _configure(reference: Path, workdir: Path) -> Any:
    def configure(config: dict[str, Any], _api: str, model_url: str) -> None:
        model = config["models"][0]
        del model["health_url"]
        model |= {
            "url": model_url,
            "metrics_url": f"{model_url}/metrics",
            "scrape": {"interval": "1s", "window": "5s", "min_requests": 5},
            "events": {
                "window": "10s",
                "evaluate_every": "1s",
                "min_events": 5,
                "min_labels": 20,
                "positive_label": "0",
            },
            "drift": {
                "reference": str(reference),
                "window": "10s",
                "evaluate_every": "1s",
                "min_rows": 50,
                "drift_share": 0.25,
            },
            "rollback": {"min_healthy_time": "2s"},
            "baseline_accuracy": 0.95,  # the demo model scores about 0.97 on its test split
            "validation": {"test_set": str(reference)},
        }
        config["rules"] = _rules()
        config["runbooks"] = {
            "hooks": {"retrain": {"command": [sys.executable, "-c", RETRAIN], "cwd": str(workdir)}}
        }

    return configure


def test_every_drill_scenario_ends_as_its_scenario_says(tmp_path: Path) -> None:
    reference = tmp_path / "reference.csv"
    written = subprocess.run(
        [sys.executable, "-m", "firewatch", "demo", "reference", "--output", str(reference)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert written.returncode == 0, written.stderr
    versions = [(name, [f"{k}={v}" for k, v in meta.items()]) for name, meta, _ in DEMO_VERSIONS]
    receiver = Receiver()
    with (
        serve_in_thread(receiver.app()) as receiver_url,
        running_stack(
            tmp_path,
            receiver_url,
            versions,
            quiet="3s",
            configure=_configure(reference, tmp_path),
            traffic_rps=10,
        ) as stack,
        stack.client() as client,
    ):
        wait_until(
            lambda: client.get("/api/v1/models/iris").json()["production"]["first_healthy_at"],
            30,
            "v1 healthy",
        )
        deploy_and_wait_healthy(client, "iris", "v2")
        log = tmp_path / "drill.log"
        with log.open("w") as out:
            drill = subprocess.run(
                [
                    *(sys.executable, "-m", "firewatch", "drill", "run", "all", "--settle", "90"),
                    *("--api", stack.api, "--token", stack.token, "--model", "iris"),
                    *("--model-url", stack.model_url, "--report", str(tmp_path / "drills.md")),
                ],
                env={**stack.env, "COLUMNS": "200"},
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=540,
                check=False,
            )
        output = log.read_text()
        print(output[-8000:])
        assert "Traceback" not in output
        runs = {r["scenario"]: r for r in client.get("/api/v1/drills").json()}
        assert set(runs) == set(SCENARIOS), f"exit {drill.returncode}"
        for name, scenario in SCENARIOS.items():
            run = runs[name]
            assert run["incident"], f"{name}: no incident: {run['failures']}"
            incident = client.get(f"/api/v1/incidents/{run['incident']}").json()
            kinds = [entry["kind"] for entry in incident["timeline"]]
            ran = [
                e["details"].get("runbook")
                for e in incident["timeline"]
                if e["kind"] == "runbook_started"
            ]
            assert scenario.runbook in ran, f"{name}: ran {ran}: {run['failures']}"
            assert in_order(scenario.sequence, kinds) == [], f"{name}: {kinds}"
            assert incident["status"] == scenario.end_state, f"{name}: {run['failures']}"
            assert incident["labels"]["drill"] == name and incident["title"].startswith("[DRILL]")
            structural = [f for f in run["failures"] if not f.startswith("target missed")]
            assert structural == [], f"{name}: {structural}"
        assert "retrain" in (tmp_path / "retrain.log").read_text()
        stats = client.get("/api/v1/stats").json()
        everything = client.get("/api/v1/stats", params={"include_drills": "true"}).json()
        assert (stats["count"], everything["count"]) == (0, len(SCENARIOS))
        report = (tmp_path / "drills.md").read_text()
        assert "![Drill timelines" in report and (tmp_path / "drills.png").stat().st_size > 5000
        live = client.get("/api/v1/models/iris").json()["production"]["version"]
        assert live == "v2", "the drills restored the fleet"


def test_the_server_runs_a_scheduled_drill_by_itself(tmp_path: Path) -> None:
    def configure(config: dict[str, Any], _api: str, model_url: str) -> None:
        config["models"][0]["rollback"] = {"min_healthy_time": "2s"}
        config["drills"] = {
            "schedule": [{"cron": "* * * * *", "scenario": "model-down"}],
            "target": {"model": "iris", "model_url": model_url},
        }

    versions = [(name, [f"{k}={v}" for k, v in meta.items()]) for name, meta, _ in DEMO_VERSIONS]
    receiver = Receiver()
    with (
        serve_in_thread(receiver.app()) as receiver_url,
        running_stack(
            tmp_path, receiver_url, versions[:3], quiet="3s", configure=configure
        ) as stack,
        stack.client() as client,
    ):
        deploy_and_wait_healthy(client, "iris", "v2")

        def finished() -> list[dict[str, Any]]:
            runs: list[dict[str, Any]] = client.get("/api/v1/drills").json()
            return [r for r in runs if r["status"] == "finished"]

        [run] = wait_until(finished, 150, "a scheduled drill to finish", interval=1)
        assert (run["trigger"], run["scenario"], run["actor"]) == (
            "schedule",
            "model-down",
            "drill-schedule",
        )
        incident = client.get(f"/api/v1/incidents/{run['incident']}").json()
        assert incident["status"] == "resolved" and incident["labels"]["drill"] == "model-down"
        structural = [f for f in run["failures"] if not f.startswith("target missed")]
        assert structural == [], structural
    db = Database(f"sqlite:///{tmp_path}/firewatch.db")
    with db.read_session() as session:
        tokens = [t for t in auth_service.list_tokens(session) if t["name"] == "drill-schedule"]
    db.dispose()
    assert tokens and all(t["revoked_at"] for t in tokens), "its short-lived token is revoked"
