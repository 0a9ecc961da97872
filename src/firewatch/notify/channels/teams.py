"""The Microsoft Teams channel: a Workflows webhook POST carrying one Adaptive Card (1.4).

Teams' Microsoft 365 connectors and their MessageCard format are being retired; a channel now
receives webhooks through a Workflows flow ("When a Teams webhook request is received"), which
accepts ``{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": <AdaptiveCard>}]}`` and answers 202.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from firewatch.notify.channels.base import (
    Notification,
    model_label,
    require_env,
    severity_label,
    truncate,
)
from firewatch.notify.channels.http import post_to_secret_url
from firewatch.notify.channels.settings import TeamsChannel

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.4"
TEXT_LIMIT = 10_000  # a Teams message is at most ~28 KB in all


def _colour(notification: Notification) -> str:
    if notification.message == "resolved":
        return "Good"
    if notification.message != "opened":
        return "Accent"
    return {"SEV1": "Attention", "SEV2": "Attention", "SEV3": "Warning"}.get(
        notification.severity, "Default"
    )


def _facts(notification: Notification) -> list[dict[str, str]]:
    incident = notification.incident
    facts = {
        "Severity": severity_label(notification.severity),
        "Status": str(incident.get("status") or "").upper(),
        "Incident": notification.incident_ref,
        "Model": model_label(incident) or "",
        "Opened": str(incident.get("opened_at") or ""),
        "Runbook": str(incident.get("runbook") or ""),
    }
    return [{"title": k, "value": v} for k, v in facts.items() if v]


def adaptive_card(notification: Notification) -> dict[str, Any]:
    """The Adaptive Card for ``notification``."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": notification.summary,
            "size": "Large",
            "weight": "Bolder",
            "color": _colour(notification),
            "wrap": True,
        }
    ]
    if notification.headline:
        body.append({"type": "TextBlock", "text": notification.headline, "wrap": True})
    body.append({"type": "FactSet", "facts": _facts(notification)})
    body.append(
        {
            "type": "TextBlock",
            "text": truncate(notification.text.strip(), TEXT_LIMIT),
            "wrap": True,
            "separator": True,
        }
    )
    body.append(
        {
            "type": "TextBlock",
            "text": f"Firewatch · {notification.target} · notification {notification.id}",
            "isSubtle": True,
            "size": "Small",
            "wrap": True,
        }
    )
    return {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }


def teams_message(notification: Notification) -> dict[str, Any]:
    """The Workflows webhook body: a message with the card as its one attachment."""
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": ADAPTIVE_CARD,
                "contentUrl": None,
                "content": adaptive_card(notification),
            }
        ],
    }


class TeamsSender:
    def __init__(self, config: TeamsChannel, *, client: httpx.AsyncClient) -> None:
        self.name = config.name
        self.config = config
        self.client = client

    async def send(self, notification: Notification) -> str:
        url = require_env(self.config.url_env, "Teams Workflows webhook URL")
        return await post_to_secret_url(
            self.client,
            url,
            orjson.dumps(teams_message(notification)),
            timeout=self.config.timeout.total_seconds(),
            secrets=self.config.secret_values(),
        )
