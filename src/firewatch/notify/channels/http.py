"""One HTTP request of a channel, with its answer sorted into delivered, retry later or give up.

The delivery rules every HTTP channel shares: a 2xx is delivered; 408, 425, 429 and 5xx, a
timeout or a connection error are retried (no sooner than the answer's ``Retry-After``); any
other answer (400, 401, 403, 404, …) can never succeed and is given up. Reasons and outcomes
name the endpoint as ``host/…`` when its URL is a secret, never the URL itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from firewatch.notify.channels.base import one_line, truncate
from firewatch.store.runner import GiveUp, RetryLater

USER_AGENT = "Firewatch/0.1"
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def retry_after(response: httpx.Response) -> timedelta | None:
    """The answer's ``Retry-After``: seconds, or an HTTP date measured from its ``Date``."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.replace(".", "", 1).isdigit():
        return timedelta(seconds=float(value))
    try:  # an HTTP date: against the server's own clock, so skew between us does not matter
        until = parsedate_to_datetime(value)
        sent = parsedate_to_datetime(response.headers["date"])
    except (KeyError, TypeError, ValueError):
        return None
    return max(timedelta(0), until - sent)


def endpoint(url: str, *, secret: bool) -> str:
    """How a URL is shown: ``host/path`` — or ``host/…`` when the URL itself is a secret."""
    parts = urlsplit(url)
    if secret:
        return f"{parts.netloc}/…"
    return parts.netloc + parts.path


class Request:
    """One request's target and how failures read: ``POST hooks.slack.com/… → HTTP 400: …``."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        timeout: float,
        secrets: Sequence[str] = (),
    ) -> None:
        self.client = client
        self.timeout = timeout
        self.secrets = secrets

    def clean(self, text: str) -> str:
        """``text`` without any of this request's secrets (answers may quote what they got)."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret:
                text = text.replace(secret, "[redacted]")
        return text

    async def send(
        self,
        method: str,
        url: str,
        *,
        label: str,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send; return a 2xx response, else raise `RetryLater` or `GiveUp` saying why."""
        what = f"{method} {label}"
        all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        try:
            response = await self.client.request(
                method,
                url,
                content=content,
                headers=all_headers,
                params=params,
                timeout=self.timeout,
            )
        except httpx.TimeoutException:
            raise RetryLater(f"{what} timed out after {self.timeout:g}s") from None
        except httpx.HTTPError as exc:
            detail = self.clean(str(exc)) or type(exc).__name__
            raise RetryLater(f"{what} failed: cannot connect ({detail})") from None
        if 200 <= response.status_code < 300:
            return response
        body = truncate(one_line(self.clean(response.text)), 200)
        reason = f"{what} → HTTP {response.status_code}" + (f": {body}" if body else "")
        if response.status_code in RETRY_STATUSES:
            raise RetryLater(reason, after=retry_after(response))
        raise GiveUp(reason)


async def post_to_secret_url(
    client: httpx.AsyncClient, url: str, body: bytes, *, timeout: float, secrets: Sequence[str]
) -> str:
    """POST JSON to a webhook whose URL is itself the secret (Slack, Teams); the outcome for the
    timeline shows only its host."""
    label = endpoint(url, secret=True)
    response = await Request(client, timeout=timeout, secrets=secrets).send(
        "POST",
        url,
        label=label,
        content=body,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    return f"POST {label} → {response.status_code}"
