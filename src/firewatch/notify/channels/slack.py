"""The Slack channel: an incoming webhook POST of Block Kit blocks plus a fallback ``text``.

Blocks: a header (the one-line summary, ≤ 150 characters), the headline and mention if any, a
section of fields (severity, status, model, opened, runbook), the rendered message (≤ 3000
characters per section) and a context line with the notification id; at most 50 blocks.
Slack answers 200 ``ok``; 400 (``invalid_payload``), 403, 404 and 410 (the channel is gone)
are never retried, 429 and 5xx are, honouring ``Retry-After``.
"""

from __future__ import annotations

from datetime import datetime
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
from firewatch.notify.channels.settings import SlackChannel

HEADER_LIMIT = 150
SECTION_TEXT_LIMIT = 3000
FIELD_TEXT_LIMIT = 2000
MAX_FIELDS = 10
MAX_BLOCKS = 50
FALLBACK_LIMIT = 3000

_ICONS = {"opened": "🚨", "update": "ℹ️", "acknowledged": "👀", "resolved": "✅"}


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: only ``&``, ``<`` and ``>`` are special."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(text: str, limit: int = SECTION_TEXT_LIMIT) -> dict[str, str]:
    return {"type": "mrkdwn", "text": truncate(text, limit)}


def _opened(value: Any) -> str | None:
    """Slack's date formatting (shown in each reader's time zone), with a UTC fallback."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return escape(value)
    fallback = when.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def _fields(notification: Notification) -> list[dict[str, str]]:
    incident = notification.incident
    facts: list[tuple[str, str | None]] = [
        ("Severity", severity_label(notification.severity)),
        ("Status", str(incident["status"]).upper() if incident.get("status") else None),
        ("Incident", notification.incident_ref),
        ("Model", model_label(incident)),
        ("Opened", _opened(incident.get("opened_at"))),
        ("Runbook", incident.get("runbook")),
    ]
    return [
        _mrkdwn(
            f"*{label}*\n{value if label == 'Opened' else escape(str(value))}", FIELD_TEXT_LIMIT
        )
        for label, value in facts
        if value
    ][:MAX_FIELDS]


def slack_message(notification: Notification, *, mention: str | None = None) -> dict[str, Any]:
    """The incoming-webhook body for ``notification``."""
    icon = _ICONS.get(notification.message, "")
    loud = (
        mention and notification.message == "opened" and notification.severity in ("SEV1", "SEV2")
    )
    fallback = f"{icon} {notification.summary}".strip()
    if loud:
        fallback = f"{mention} {fallback}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": truncate(f"{icon} {notification.summary}".strip(), HEADER_LIMIT),
                "emoji": True,
            },
        }
    ]
    lead = " ".join(
        p for p in (mention if loud else None, escape(notification.headline or "")) if p
    )
    if lead:
        blocks.append({"type": "section", "text": _mrkdwn(lead)})
    fields = _fields(notification)
    if fields:
        blocks.append({"type": "section", "fields": fields})
    blocks.append({"type": "divider"})
    blocks.append({"type": "section", "text": _mrkdwn(escape(notification.text.strip()))})
    context = (
        f"Firewatch · {escape(notification.target)} · notification `{escape(notification.id)}`"
    )
    blocks.append({"type": "context", "elements": [_mrkdwn(context)]})
    return {"text": truncate(fallback, FALLBACK_LIMIT), "blocks": blocks[:MAX_BLOCKS]}


class SlackSender:
    def __init__(self, config: SlackChannel, *, client: httpx.AsyncClient) -> None:
        self.name = config.name
        self.config = config
        self.client = client

    async def send(self, notification: Notification) -> str:
        url = require_env(self.config.url_env, "Slack incoming webhook URL")
        return await post_to_secret_url(
            self.client,
            url,
            orjson.dumps(slack_message(notification, mention=self.config.mention)),
            timeout=self.config.timeout.total_seconds(),
            secrets=self.config.secret_values(),
        )
