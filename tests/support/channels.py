"""Notification channel test helpers: a sample notification, a recording HTTP peer, and the
services' published formats as checks (Slack Block Kit, PagerDuty Events API v2, Atlassian
Document Format against Atlassian's JSON schema, Teams Workflows webhooks with Adaptive Cards).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from firewatch.notify.channels import Notification

FIXTURES = Path(__file__).parents[1] / "fixtures"

INCIDENT: dict[str, Any] = {
    "id": "INC-2026-001",
    "severity": "SEV1",
    "title": "iris <model> & friends are down",
    "status": "investigating",
    "model": "iris",
    "model_version": "3",
    "opened_at": "2026-01-15T14:30:00+00:00",
    "runbook": "model-unavailable",
}
TEXT = """🚨 INCIDENT INC-2026-001: iris <model> & friends are down

Severity: CRITICAL (SEV1)
Time: 2026-01-15 14:30 UTC
Status: INVESTIGATING

Impact:
- 100% of requests failing
- Estimated resolution: 2026-01-15 15:30 UTC (1h target)

Action:
- Team investigating root cause
- Will update in 15m

Questions? Contact #ml-incidents on Slack
"""

SLACK_SECRET = "T0000/B0000/XXslackSecretXX"
TEAMS_SIG = "teamsSignature0123456789"
ROUTING_KEY = "R0UT1NGKEY0000000000000000000001"
JIRA_TOKEN = "jira-api-token-secret"
SMTP_USER = "firewatch-smtp"
SMTP_PASSWORD = "smtp-password-secret"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def notification(
    message: str = "opened",
    *,
    severity: str = "SEV1",
    title: str | None = None,
    text: str = TEXT,
    headline: str | None = None,
    target: str = "#critical-incidents",
    notification_id: str = "fw-7-chat-slack-#critical-incidents",
) -> Notification:
    incident = {**INCIDENT, "severity": severity}
    if title is not None:
        incident["title"] = title
    return Notification(
        id=notification_id,
        event_type=f"incident.{message}",
        intent="chat",
        target=target,
        text=text,
        incident=incident,
        message=message,  # type: ignore[arg-type]
        headline=headline,
    )


SECRETS = (SLACK_SECRET, TEAMS_SIG, ROUTING_KEY, JIRA_TOKEN, WEBHOOK_SECRET, SMTP_PASSWORD)


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a secret leaked into {text!r}"
    assert base64.b64encode(f"oncall@example.com:{JIRA_TOKEN}".encode()).decode() not in text


# --- a local HTTP peer that records every request ------------------------------------------


@dataclass
class Hit:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Peer:
    """Answers requests to any path with ``answers`` in order (then 200 ``ok``), recording them."""

    answers: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, status: int, body: Any = b"", headers: dict[str, str] | None = None) -> None:
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        self.answers.append((status, headers or {}, raw))

    def reset(self) -> None:
        with self.lock:
            self.answers.clear()
            self.hits.clear()
            self.delay = 0.0

    def app(self) -> Starlette:
        async def any_path(request: Request) -> Response:
            hit = Hit(
                request.method,
                request.url.path,
                dict(request.query_params),
                dict(request.headers),
                await request.body(),
            )
            with self.lock:
                self.hits.append(hit)
                status, headers, body = self.answers.pop(0) if self.answers else (200, {}, b"ok")
                delay = self.delay
            if delay:
                await asyncio.sleep(delay)
            return Response(body, status_code=status, headers=headers)

        return Starlette(routes=[Route("/{path:path}", any_path, methods=["GET", "POST"])])


# --- the published formats, as checks ------------------------------------------------------


def assert_block_kit_message(body: dict[str, Any]) -> None:
    """Slack's incoming-webhook body: fallback text + blocks within the Block Kit limits."""
    assert isinstance(body["text"], str) and body["text"].strip()
    blocks = body["blocks"]
    assert 1 <= len(blocks) <= 50
    for block in blocks:
        kind = block["type"]
        assert kind in {"header", "section", "divider", "context"}, kind
        assert len(block.get("block_id", "")) <= 255
        if kind == "header":
            assert block["text"]["type"] == "plain_text"
            assert 0 < len(block["text"]["text"]) <= 150
        elif kind == "section":
            assert "text" in block or "fields" in block
            if "text" in block:
                assert block["text"]["type"] in {"mrkdwn", "plain_text"}
                assert 0 < len(block["text"]["text"]) <= 3000
            for item in block.get("fields", []):
                assert item["type"] in {"mrkdwn", "plain_text"}
                assert 0 < len(item["text"]) <= 2000
            assert len(block.get("fields", [])) <= 10
        elif kind == "context":
            assert 1 <= len(block["elements"]) <= 10
            for element in block["elements"]:
                assert element["type"] in {"mrkdwn", "plain_text", "image"}
                assert 0 < len(element.get("text", "x")) <= 3000


def _pagerduty_example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "pagerduty" / f"{name}.json").read_text())
    return data


def assert_events_v2(event: dict[str, Any]) -> None:
    """An Events API v2 alert event, with only the keys PagerDuty's own examples use."""
    assert event["event_action"] in {"trigger", "acknowledge", "resolve"}
    assert event["routing_key"] == ROUTING_KEY
    assert 0 < len(event["dedup_key"]) <= 255
    if event["event_action"] != "trigger":
        assert set(event) == set(_pagerduty_example(event["event_action"]))
        return
    example = _pagerduty_example("trigger")
    assert set(event) <= set(example)
    payload = event["payload"]
    assert set(payload) <= set(example["payload"])
    assert 0 < len(payload["summary"]) <= 1024
    assert payload["source"]
    assert payload["severity"] in {"critical", "error", "warning", "info"}
    datetime.fromisoformat(payload["timestamp"])
    assert isinstance(payload.get("custom_details", {}), dict)


@cache
def _adf_validator() -> jsonschema.Draft4Validator:
    schema = json.loads((FIXTURES / "channels" / "adf-schema.json").read_text())
    return jsonschema.Draft4Validator(schema)


def assert_adf(document: dict[str, Any]) -> None:
    """A valid Atlassian Document Format document, by Atlassian's own JSON schema."""
    _adf_validator().validate(document)


_CARD_ENUMS = {
    "size": {"Default", "Small", "Medium", "Large", "ExtraLarge"},
    "weight": {"Default", "Lighter", "Bolder"},
    "color": {"Default", "Dark", "Light", "Accent", "Good", "Warning", "Attention"},
}


def assert_teams_workflow_card(body: dict[str, Any]) -> None:
    """A Workflows webhook message with one Adaptive Card (1.4+), no MessageCard keys."""
    assert body["type"] == "message"
    assert not {"@type", "@context", "themeColor", "sections"} & set(body)
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert tuple(int(p) for p in card["version"].split(".")) >= (1, 4)
    assert card["body"]
    for element in card["body"]:
        assert element["type"] in {"TextBlock", "FactSet"}, element["type"]
        if element["type"] == "TextBlock":
            assert isinstance(element["text"], str) and element["text"]
            for prop, allowed in _CARD_ENUMS.items():
                assert element.get(prop, "Default") in allowed
        else:
            assert element["facts"]
            for fact in element["facts"]:
                assert set(fact) == {"title", "value"}
                assert isinstance(fact["title"], str) and isinstance(fact["value"], str)
