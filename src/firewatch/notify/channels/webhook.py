"""The generic JSON webhook channel: one POST per notification, signed per Standard Webhooks.

The body is ``{"id", "event_type", "intent", "target", "text", "incident"}``. Every request
carries ``Idempotency-Key`` (the notification id); with ``secret_env`` it is also signed as the
Standard Webhooks spec says: ``webhook-id`` (the same id, stable across retries, for receivers
to drop duplicates), ``webhook-timestamp`` (Unix seconds of this attempt) and
``webhook-signature: v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>``.
"""

from __future__ import annotations

import httpx
import orjson

from firewatch.clock import Clock, SystemClock
from firewatch.notify.channels.base import Notification, require_env
from firewatch.notify.channels.http import (
    RETRY_STATUSES,
    USER_AGENT,
    Request,
    endpoint,
    retry_after,
)
from firewatch.notify.channels.settings import WebhookChannel
from firewatch.signing import signing_key, standard_webhook_signature
from firewatch.store.runner import GiveUp

__all__ = [
    "RETRY_STATUSES",
    "USER_AGENT",
    "WebhookSender",
    "retry_after",
]


class WebhookSender:
    """Sends to one configured webhook.

    ``wall_clock`` stamps signatures: receivers compare ``webhook-timestamp`` with their own
    clock (5 minutes' tolerance), so it must be the real time even in a drill on a fast clock.
    """

    def __init__(
        self,
        config: WebhookChannel,
        *,
        client: httpx.AsyncClient,
        wall_clock: Clock | None = None,
    ) -> None:
        self.name = config.name
        self.url = str(config.url)
        self.config = config
        self.wall_clock = wall_clock or SystemClock()
        self.timeout = config.timeout.total_seconds()
        self.client = client

    def _headers(self, notification: Notification, body: bytes) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Idempotency-Key": notification.id}
        if self.config.bearer_token_env:
            token = require_env(self.config.bearer_token_env, "bearer token")
            headers["Authorization"] = f"Bearer {token}"
        if self.config.secret_env:
            secret = require_env(self.config.secret_env, "Standard Webhooks signing secret")
            try:
                key = signing_key(secret)
            except ValueError as exc:
                raise GiveUp(f"environment variable {self.config.secret_env}: {exc}") from None
            timestamp = int(self.wall_clock.now().timestamp())
            headers["webhook-id"] = notification.id
            headers["webhook-timestamp"] = str(timestamp)
            headers["webhook-signature"] = standard_webhook_signature(
                key, notification.id, timestamp, body
            )
        return headers

    def _secrets(self) -> list[str]:
        return self.config.secret_values()

    async def send(self, notification: Notification) -> str:
        body = orjson.dumps(
            {
                "id": notification.id,
                "event_type": notification.event_type,
                "intent": notification.intent,
                "target": notification.target,
                "text": notification.text,
                "incident": notification.incident,
            }
        )
        headers = self._headers(notification, body)
        request = Request(self.client, timeout=self.timeout, secrets=self._secrets())
        label = endpoint(self.url, secret=False)
        response = await request.send("POST", self.url, label=label, content=body, headers=headers)
        signed = " (signed)" if self.config.secret_env else ""
        return f"POST {label} → {response.status_code}{signed}"
