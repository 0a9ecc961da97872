"""The PagerDuty channel: Events API v2 (``POST /v2/enqueue``) alert events.

A new incident or an update is a ``trigger`` (an update re-triggers the same alert with the
new summary), an acknowledgement an ``acknowledge`` and the resolution a ``resolve``, all with
the incident's ``dedup_key`` (``firewatch-INC-2026-001``) so PagerDuty keeps them on one alert.
``payload.summary`` is at most 1024 characters, ``payload.severity`` maps SEV1..SEV4 to
critical / error / warning / info. PagerDuty answers 202; 400 (an invalid event) is never
retried, 429 and 5xx are.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from firewatch.notify.channels.base import Notification, model_label, require_env, truncate
from firewatch.notify.channels.http import Request, endpoint
from firewatch.notify.channels.settings import PagerDutyChannel

SUMMARY_LIMIT = 1024
DEDUP_KEY_LIMIT = 255
DETAILS_TEXT_LIMIT = 20_000  # the whole event must stay under 512 KB

PAGERDUTY_SEVERITY = {"SEV1": "critical", "SEV2": "error", "SEV3": "warning", "SEV4": "info"}
EVENT_ACTION = {
    "opened": "trigger",
    "update": "trigger",
    "acknowledged": "acknowledge",
    "resolved": "resolve",
}


def pagerduty_event(
    notification: Notification, *, routing_key: str, config: PagerDutyChannel
) -> dict[str, Any]:
    """The Events API v2 body for ``notification``."""
    action = EVENT_ACTION[notification.message]
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": notification.dedup_key[:DEDUP_KEY_LIMIT],
    }
    if action != "trigger":  # acknowledge and resolve need only the key
        return event
    incident = notification.incident
    model = incident.get("model")
    payload: dict[str, Any] = {
        "summary": truncate(" ".join(notification.summary.split()), SUMMARY_LIMIT),
        "source": str(model or config.source),
        "severity": PAGERDUTY_SEVERITY.get(notification.severity, "error"),
        "class": notification.event_type,
        "custom_details": {
            "incident": notification.incident_ref,
            "title": notification.title,
            "severity": notification.severity,
            "status": incident.get("status"),
            "model": model_label(incident),
            "runbook": incident.get("runbook"),
            "headline": notification.headline,
            "message": truncate(notification.text.strip(), DETAILS_TEXT_LIMIT),
            "notification_id": notification.id,
        },
    }
    if incident.get("opened_at"):
        payload["timestamp"] = incident["opened_at"]
    if model:
        payload["component"] = str(model)
    if config.group:
        payload["group"] = config.group
    event["payload"] = payload
    event["client"] = "Firewatch"
    if config.client_url is not None:
        event["client_url"] = str(config.client_url)
    return event


class PagerDutySender:
    def __init__(self, config: PagerDutyChannel, *, client: httpx.AsyncClient) -> None:
        self.name = config.name
        self.config = config
        self.url = str(config.url)
        self.client = client

    async def send(self, notification: Notification) -> str:
        key = require_env(self.config.routing_key_env, "PagerDuty routing key")
        event = pagerduty_event(notification, routing_key=key, config=self.config)
        request = Request(
            self.client,
            timeout=self.config.timeout.total_seconds(),
            secrets=self.config.secret_values(),
        )
        label = endpoint(self.url, secret=False)
        response = await request.send(
            "POST",
            self.url,
            label=label,
            content=orjson.dumps(event),
            headers={"Content-Type": "application/json"},
        )
        return (
            f"PagerDuty {event['event_action']} {event['dedup_key']}: "
            f"POST {label} → {response.status_code}"
        )
