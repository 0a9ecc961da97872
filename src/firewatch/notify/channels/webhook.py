"""The generic JSON webhook channel: one POST per notification with an ``Idempotency-Key`` header."""

from __future__ import annotations

import os
from dataclasses import asdict
from datetime import timedelta

import httpx
import orjson

from firewatch.config import WebhookChannel
from firewatch.notify.channels.base import Notification
from firewatch.store.runner import GiveUp, RetryLater

USER_AGENT = "Firewatch/0.1"
RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}


def retry_after(response: httpx.Response) -> timedelta | None:
    """The ``Retry-After`` header in seconds (HTTP-dates are rare from webhooks; ignored)."""
    value = response.headers.get("retry-after", "").strip()
    return timedelta(seconds=float(value)) if value.replace(".", "", 1).isdigit() else None


class WebhookSender:
    def __init__(self, config: WebhookChannel, *, client: httpx.AsyncClient) -> None:
        self.name = config.name
        self.url = str(config.url)
        self.timeout = config.timeout.total_seconds()
        self.client = client
        self.token_env = config.bearer_token_env

    def _headers(self, notification: Notification) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": notification.id,
        }
        if self.token_env:
            token = os.environ.get(self.token_env)
            if not token:
                raise GiveUp(f"environment variable {self.token_env} (bearer token) is not set")
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def send(self, notification: Notification) -> str:
        body = orjson.dumps(asdict(notification))
        try:
            response = await self.client.post(
                self.url, content=body, headers=self._headers(notification), timeout=self.timeout
            )
        except httpx.TimeoutException:
            raise RetryLater(f"{self.url} timed out after {self.timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise RetryLater(f"{self.url} unreachable: {exc}") from None
        if 200 <= response.status_code < 300:
            return f"POST {self.url} → {response.status_code}"
        summary = f"POST {self.url} → HTTP {response.status_code}: {response.text[:200]}"
        if response.status_code in RETRY_STATUSES:
            raise RetryLater(summary, after=retry_after(response))
        raise GiveUp(summary)
