"""The generic HTTP serving hook: POST each registry move to a controller that applies it.

For serving systems Firewatch does not drive itself (KServe, Seldon Core, an in-house
platform). The body is ``{"model", "alias", "version", "previous_version", "action", "reason",
"incident"}``; a 2xx answer means the receiver applied it. With ``secret_env`` the request is
signed like the webhook channel's (Standard Webhooks); ``Idempotency-Key`` and ``webhook-id`` are
the same for a repeat of the same move, so a receiver can drop duplicates.
docs/registries.md shows what a KServe or Seldon receiver does with it.
"""

from __future__ import annotations

import hashlib
import os

import httpx
import orjson

from firewatch.clock import Clock, SystemClock
from firewatch.registry.adapters.base import ServingError, check_action, where
from firewatch.registry.adapters.settings import HttpServing
from firewatch.registry.service import PRODUCTION
from firewatch.signing import signing_key, standard_webhook_signature

USER_AGENT = "firewatch-serving-hook"


class HttpAdapter:
    """POSTs the move to ``config.url``; see the module docstring for the contract."""

    name = "http"

    def __init__(
        self, config: HttpServing, *, client: httpx.AsyncClient, wall_clock: Clock | None = None
    ) -> None:
        self.config = config
        self.url = str(config.url)
        self.shown = where(self.url)
        self.client = client
        self.wall_clock = wall_clock or SystemClock()  # receivers check signatures on real time

    async def apply(
        self,
        *,
        model: str,
        version: str,
        previous: str | None,
        action: str,
        reason: str,
        dry_run: bool = False,
        incident: str | None = None,
    ) -> str:
        check_action(action)
        if dry_run:
            return f"would POST {action} of {model} to {version} to {self.shown}"
        still = f"the serving system still serves {previous or 'the previous version'}"
        body = orjson.dumps(
            {
                "model": model,
                "alias": PRODUCTION,
                "version": version,
                "previous_version": previous,
                "action": action,
                "reason": reason,
                "incident": incident,
            }
        )
        key = hashlib.sha256(f"{model}|{action}|{version}|{previous}|{incident}".encode())
        try:
            headers = self._headers("fw-" + key.hexdigest()[:32], body)
        except ValueError as exc:
            raise ServingError(f"the serving hook was not called: {exc}; {still}") from None
        try:
            response = await self.client.post(
                self.url, content=body, headers=headers, timeout=self.config.timeout.total_seconds()
            )
        except httpx.HTTPError as exc:
            why = "timed out" if isinstance(exc, httpx.TimeoutException) else type(exc).__name__
            raise ServingError(
                f"the serving hook {self.shown} could not be reached ({why}); {still}",
                code="serving_hook_unreachable",
            ) from None
        answer = response.text.strip().replace("\n", " ")[:200]
        if not response.is_success:
            raise ServingError(
                f"the serving hook {self.shown} answered {response.status_code}"
                + (f": {answer}" if answer else "")
                + f"; {still}",
                code="serving_hook_refused",
            )
        signed = " (signed)" if self.config.secret_env else ""
        said = f": {answer}" if answer else ""
        return f"POST {self.shown} → {response.status_code}{signed}{said}"

    def _headers(self, msg_id: str, body: bytes) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": msg_id,
        }
        if self.config.bearer_token_env:
            headers["Authorization"] = f"Bearer {_env(self.config.bearer_token_env)}"
        if self.config.secret_env:
            secret = _env(self.config.secret_env)
            try:
                key = signing_key(secret)
            except ValueError as exc:
                raise ValueError(f"environment variable {self.config.secret_env}: {exc}") from None
            timestamp = int(self.wall_clock.now().timestamp())
            headers["webhook-id"] = msg_id
            headers["webhook-timestamp"] = str(timestamp)
            headers["webhook-signature"] = standard_webhook_signature(key, msg_id, timestamp, body)
        return headers


def _env(variable: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise ValueError(f"environment variable {variable} is not set")
    return value
