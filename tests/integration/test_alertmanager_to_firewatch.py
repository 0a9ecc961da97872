"""Real Prometheus and Alertmanager in front of a real Firewatch: Prometheus scrapes the demo
model, a rule fires, Alertmanager posts its webhook to Firewatch, exactly one incident opens,
and clearing the fault resolves it. Also: live Alertmanager payloads parse as documented."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

from firewatch.alerts.ingest import parse_alertmanager
from support.processes import firewatch, wait_http, wait_until
from support.prom import (
    capture_webhook,
    predict_body,
    running_alertmanager,
    running_demo_model,
    running_prometheus,
)
from support.servers import free_port

RULES = """
groups:
  - name: models
    rules:
      - alert: HighErrorRate
        expr: sum by (model) (rate(model_request_errors_total[5s])) / sum by (model) (rate(model_requests_total[5s])) > 0.05
        labels:
          severity: critical
        annotations:
          summary: "{{ $labels.model }} error rate above 5%"
"""


@contextmanager
def running_firewatch(workdir: Path) -> Iterator[tuple[str, str, str]]:
    """``firewatch serve`` as a process; yields (url, admin token, ingest token)."""
    port = free_port()
    config = {"server": {"port": port}, "incidents": {"resolve_quiet_period": "2s"}}
    (workdir / "firewatch.yaml").write_text(yaml.safe_dump(config))
    env = {
        **os.environ,
        "FIREWATCH_DATABASE_URL": f"sqlite:///{workdir}/fw.db",
        "FIREWATCH_CONFIG": str(workdir / "firewatch.yaml"),
    }
    admin = firewatch("token", "create", "--scope", "admin", env=env, cwd=workdir).stdout.strip()
    ingest = firewatch(
        "token", "create", "--scope", "ingest", "--name", "alertmanager", env=env, cwd=workdir
    ).stdout.strip()
    with (workdir / "serve.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "firewatch", "serve"],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/ready", proc=proc)
        yield url, admin, ingest
    finally:
        proc.terminate()
        proc.wait(15)


def test_prometheus_rule_through_alertmanager_opens_and_resolves_one_incident(
    tmp_path: Path,
) -> None:
    with (
        running_firewatch(tmp_path) as (fw_url, admin, ingest),
        running_alertmanager(
            f"{fw_url}/api/v1/integrations/alertmanager", bearer_token=ingest, group_by=("model",)
        ) as alertmanager,
        running_demo_model("iris", "v1") as model_url,
        running_prometheus(
            [model_url], rules_yaml=RULES, alertmanager_url=alertmanager.url
        ) as prometheus,
        httpx.Client(base_url=model_url, timeout=10) as model,
        httpx.Client(
            base_url=fw_url, headers={"Authorization": f"Bearer {admin}"}, timeout=10
        ) as api,
    ):
        prometheus.wait_until_scraped()
        for _ in range(5):
            model.post("/predict", json=predict_body())
        assert model.post("/admin/faults", json={"error_rate": 1.0}).status_code == 200

        def incidents() -> list[dict[str, Any]]:
            for _ in range(3):
                model.post("/predict", json=predict_body())
            items: list[dict[str, Any]] = api.get("/api/v1/incidents").json()["items"]
            return items

        [incident] = wait_until(incidents, 60, "an incident from Alertmanager", interval=0.5)
        assert incident["severity"] == "SEV1" and incident["model"] == "iris"
        assert incident["title"] == "iris error rate above 5%"

        model.delete("/admin/faults")

        def resolved() -> bool:
            model.post("/predict", json=predict_body())
            status: str = api.get(f"/api/v1/incidents/{incident['id']}").json()["status"]
            return status == "resolved"

        wait_until(resolved, 60, "the incident to resolve", interval=0.5)
        assert (
            api.get("/api/v1/incidents").json()["total"] == 1
        )  # Alertmanager's re-sends joined it
        [alert] = api.get("/api/v1/alerts", params={"model": "iris"}).json()
        assert alert["labels"]["source"] == "alertmanager" and alert["status"] == "resolved"


def test_live_alertmanager_payloads_parse_onto_the_shared_labels() -> None:
    started = datetime.now(UTC) - timedelta(minutes=1)
    alert = {
        "labels": {
            "alertname": "ModelLatency",
            "service": "ranker",
            "severity": "warning",
            "team": "search",
        },
        "annotations": {"summary": "ranker p95 above 800ms"},
        "startsAt": started.isoformat(),
    }
    ended = {**alert, "endsAt": datetime.now(UTC).isoformat()}
    firing, resolved = capture_webhook([alert], then=[[ended]])
    [parsed] = parse_alertmanager(orjson.dumps(firing))
    assert parsed.labels == {
        "alertname": "ModelLatency",
        "model": "ranker",
        "service": "ranker",
        "severity": "SEV3",
        "upstream_severity": "warning",
        "team": "search",
        "source": "alertmanager",
    }
    assert parsed.status == "firing" and parsed.ends_at is None
    assert parsed.fingerprint == firing["alerts"][0]["fingerprint"]
    [cleared] = parse_alertmanager(orjson.dumps(resolved))
    assert cleared.status == "resolved" and cleared.ends_at is not None
    assert cleared.fingerprint == parsed.fingerprint
