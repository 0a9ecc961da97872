"""The real alerting stack: Alertmanager 0.25 webhooks, and Prometheus 2.42 → Alertmanager → us.

With ``FIREWATCH_CAPTURE_FIXTURES=1`` the firing/resolved bodies captured from the real
Alertmanager are written to ``tests/fixtures/alertmanager/captured_*.json`` (never in CI runs
that do not set it), for parser tests that run without the servers.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from support.prom import (
    AlertmanagerHandle,
    PrometheusHandle,
    capture_webhook,
    capture_webhook_requests,
    predict_body,
    running_alertmanager,
    running_demo_model,
    running_prometheus,
    wait_for_webhooks,
)
from support.receiver import Receiver
from support.servers import serve_in_thread

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "alertmanager"
CAPTURE_ENV = "FIREWATCH_CAPTURE_FIXTURES"
TOKEN = "am-webhook-token"
ZERO_TIME = "0001-01-01T00:00:00Z"
LABELS = {"alertname": "HighErrorRate", "model": "iris", "severity": "critical"}
PAYLOAD_KEYS = {
    "receiver",
    "status",
    "alerts",
    "groupLabels",
    "commonLabels",
    "commonAnnotations",
    "externalURL",
    "version",
    "groupKey",
    "truncatedAlerts",
}
ALERT_KEYS = {
    "status",
    "labels",
    "annotations",
    "startsAt",
    "endsAt",
    "generatorURL",
    "fingerprint",
}
RULES = """
groups:
  - name: firewatch-test
    rules:
      - alert: ModelErrors
        expr: sum by (model) (rate(model_request_errors_total[5s])) > 0
        labels:
          severity: critical
          team: ml
        annotations:
          summary: "{{ $labels.model }} answers errors"
"""


def fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's fingerprint: FNV-1a 64 over sorted ``name 0xff value 0xff``."""
    digest = 0xCBF29CE484222325
    for name in sorted(labels):
        for chunk in (name.encode(), b"\xff", labels[name].encode(), b"\xff"):
            for byte in chunk:
                digest ^= byte
                digest = (digest * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{digest:016x}"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """Alertmanager's RFC 3339 times (nanoseconds, ``Z``) as aware datetimes."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00")
    return datetime.fromisoformat(text)


def assert_payload_shape(body: dict[str, Any], status: str) -> None:
    assert set(body) >= PAYLOAD_KEYS, sorted(body)
    assert body["version"] == "4"
    assert body["status"] == status
    assert body["receiver"] == "firewatch"
    assert body["truncatedAlerts"] == 0
    assert isinstance(body["groupKey"], str) and body["groupKey"]
    for alert in body["alerts"]:
        assert set(alert) >= ALERT_KEYS, sorted(alert)
        assert alert["status"] == status
        assert re.fullmatch(r"[0-9a-f]{16}", alert["fingerprint"])
        assert alert["fingerprint"] == fingerprint(alert["labels"])


def save_fixture(name: str, body: dict[str, Any]) -> None:
    if os.environ.get(CAPTURE_ENV) != "1":
        return
    FIXTURES.mkdir(parents=True, exist_ok=True)
    (FIXTURES / name).write_text(json.dumps(body, indent=2) + "\n")


def test_alertmanager_webhook_payloads_firing_then_resolved() -> None:
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    alert = {
        "labels": LABELS,
        "annotations": {"summary": "iris error rate 12% > 5%", "runbook": "rollback"},
        "startsAt": rfc3339(started),
        "generatorURL": "http://prometheus.test/graph?g0.expr=errors",
    }
    resolved_at = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    received = capture_webhook_requests(
        [alert], then=[[{**alert, "endsAt": rfc3339(resolved_at)}]], bearer_token=TOKEN
    )
    assert len(received) == 2, [r.body for r in received]
    firing, resolved = received

    for request in received:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"] == "Alertmanager/0.25.0"

    body = firing.body
    assert_payload_shape(body, "firing")
    [sent] = body["alerts"]
    assert sent["labels"] == LABELS
    assert sent["annotations"] == alert["annotations"]
    assert sent["generatorURL"] == alert["generatorURL"]
    assert parse_time(sent["startsAt"]) == started
    assert sent["endsAt"] == ZERO_TIME  # firing, and no endsAt given by the sender
    assert body["groupLabels"] == {"alertname": "HighErrorRate"}
    assert body["commonLabels"] == LABELS
    assert body["commonAnnotations"] == alert["annotations"]
    assert body["groupKey"] == '{}:{alertname="HighErrorRate"}'
    assert body["externalURL"].startswith("http://127.0.0.1:")

    later = resolved.body
    assert_payload_shape(later, "resolved")
    [ended] = later["alerts"]
    assert ended["labels"] == LABELS
    assert ended["fingerprint"] == sent["fingerprint"]
    assert parse_time(ended["startsAt"]) == started
    assert parse_time(ended["endsAt"]) == resolved_at
    assert later["groupKey"] == body["groupKey"]

    save_fixture("captured_firing.json", body)
    save_fixture("captured_resolved.json", later)


def test_capture_webhook_groups_alerts_by_name() -> None:
    alerts = [
        {"labels": {**LABELS, "model": model}, "annotations": {"summary": "errors"}}
        for model in ("iris", "churn")
    ]
    [body] = capture_webhook(alerts)
    assert_payload_shape(body, "firing")
    assert sorted(a["labels"]["model"] for a in body["alerts"]) == ["churn", "iris"]
    assert body["commonLabels"] == {"alertname": "HighErrorRate", "severity": "critical"}
    assert body["commonAnnotations"] == {"summary": "errors"}
    assert {a["endsAt"] for a in body["alerts"]} == {ZERO_TIME}


def test_prometheus_rule_fires_through_alertmanager_and_resolves() -> None:
    receiver = Receiver()
    with (
        serve_in_thread(receiver.app()) as receiver_url,
        running_alertmanager(f"{receiver_url}/hook", bearer_token=TOKEN) as alertmanager,
        running_demo_model("iris", "v1") as model_url,
        running_prometheus(
            [model_url], rules_yaml=RULES, alertmanager_url=alertmanager.url
        ) as prometheus,
        httpx.Client(base_url=model_url, timeout=10) as model,
    ):
        servers: list[AlertmanagerHandle | PrometheusHandle] = [prometheus, alertmanager]
        prometheus.wait_until_scraped()  # the error counter is seen at 0 before the errors
        assert model.post("/admin/faults", json={"error_rate": 1.0}).status_code == 200
        for _ in range(5):
            assert model.post("/predict", json=predict_body()).status_code == 500

        [firing] = [r.body for r in wait_for_webhooks(receiver, 1, 30, servers=servers)]
        assert_payload_shape(firing, "firing")
        [alert] = firing["alerts"]
        assert alert["labels"] == {
            "alertname": "ModelErrors",
            "model": "iris",
            "severity": "critical",
            "team": "ml",
        }
        assert alert["annotations"] == {"summary": "iris answers errors"}
        assert alert["generatorURL"].startswith(f"{prometheus.url}/graph?g0.expr=")
        # Prometheus posts a future endsAt (now + 4 × resend delay) with each firing alert, yet
        # Alertmanager still sends firing alerts with the zero time.
        assert alert["endsAt"] == ZERO_TIME
        assert parse_time(alert["startsAt"]) <= datetime.now(UTC)
        assert receiver.received[0].headers["authorization"] == f"Bearer {TOKEN}"

        assert model.delete("/admin/faults").status_code == 200
        for _ in range(5):
            assert model.post("/predict", json=predict_body()).status_code == 200

        bodies = [r.body for r in wait_for_webhooks(receiver, 2, 30, servers=servers)]
        resolved = bodies[-1]
        assert_payload_shape(resolved, "resolved")
        [ended] = resolved["alerts"]
        assert ended["labels"] == alert["labels"]
        assert ended["fingerprint"] == alert["fingerprint"]
        assert parse_time(ended["endsAt"]) <= datetime.now(UTC)
