"""Posting inference events and labels to Firewatch in batches, never in the way of the traffic.

The demo model reports each prediction it makes (``POST /api/v1/models/{model}/events``); the
traffic generator, which knows the true labels, sends them a few seconds later
(``POST /api/v1/models/{model}/labels``), as ground truth arrives in production. Both buffer what
they have and post it every ``interval`` seconds. A post that fails is counted and its items
dropped (the buffer is bounded too, dropping the oldest), so a Firewatch that is down or refuses
the token costs the demo nothing but the data: the first failure is logged, then nothing until
posts succeed again, when how much was lost is said.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL = 1.0
MAX_BUFFER = 20_000
"""Items kept waiting at most; beyond it the oldest are dropped (and counted)."""
MAX_BATCH = 5_000
"""Items per request at most (Firewatch takes up to 50,000)."""


def ingest_url(firewatch_url: str, model: str, kind: str) -> str:
    """``{firewatch_url}/api/v1/models/{model}/{kind}`` (``kind``: ``events`` or ``labels``)."""
    return f"{firewatch_url.rstrip('/')}/api/v1/models/{quote(model, safe='')}/{kind}"


@dataclass(frozen=True)
class PostStats:
    """What a poster did: items accepted by Firewatch, lost in failed posts, dropped unsent."""

    posted: int
    failed: int
    dropped: int
    waiting: int

    @property
    def lost(self) -> int:
        return self.failed + self.dropped


class BatchPoster:
    """Buffers JSON items and posts them as ``{key: [items]}`` to ``url`` every ``interval``.

    ``add`` never blocks nor raises; an item is sent once ``delay`` seconds have passed since it
    was added (labels arrive later than predictions). ``client`` is used as is (its timeout
    applies) and not closed here.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        key: str,
        *,
        token: str | None = None,
        interval: float = DEFAULT_INTERVAL,
        delay: float = 0.0,
        max_buffer: int = MAX_BUFFER,
        max_batch: int = MAX_BATCH,
    ) -> None:
        if not interval > 0:
            raise ValueError(f"interval must be positive, got {interval}")
        if delay < 0:
            raise ValueError(f"delay cannot be negative, got {delay}")
        if max_buffer < 1 or max_batch < 1:
            raise ValueError("max_buffer and max_batch must be at least 1")
        self.url = url
        self.key = key
        self.interval = interval
        self.delay = delay
        self._client = client
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._max_buffer = max_buffer
        self._max_batch = max_batch
        self._buffer: collections.deque[tuple[float, dict[str, Any]]] = collections.deque()
        self._posted = 0
        self._failed = 0
        self._dropped = 0
        self._lost_since_ok = 0
        self._problem: str | None = None

    @property
    def stats(self) -> PostStats:
        return PostStats(self._posted, self._failed, self._dropped, len(self._buffer))

    @property
    def problem(self) -> str | None:
        """Why the last post failed, or None when it succeeded (or none was made)."""
        return self._problem

    def add(self, item: dict[str, Any]) -> None:
        """Queue one item, to be posted once ``delay`` has passed."""
        if len(self._buffer) >= self._max_buffer:
            self._buffer.popleft()
            self._dropped += 1
            self._lost_since_ok += 1
        self._buffer.append((time.monotonic() + self.delay, item))

    async def flush(self, *, everything: bool = False) -> None:
        """Post the items that are due (all of them with ``everything``), in batches."""
        now = time.monotonic()
        while self._buffer and (everything or self._buffer[0][0] <= now):
            batch: list[dict[str, Any]] = []
            while (
                self._buffer
                and len(batch) < self._max_batch
                and (everything or self._buffer[0][0] <= now)
            ):
                batch.append(self._buffer.popleft()[1])
            await self._post(batch)

    async def run_forever(self) -> None:
        """Flush every ``interval`` seconds until cancelled, surviving unexpected errors."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except Exception:
                logger.exception("unexpected error posting %s to %s", self.key, self.url)

    async def _post(self, batch: list[dict[str, Any]]) -> None:
        try:
            response = await self._client.post(
                self.url, json={self.key: batch}, headers=self._headers
            )
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}: {exc}".rstrip(": ")
        else:
            if response.is_success:
                self._succeeded(len(batch))
                return
            problem = f"HTTP {response.status_code}{_error_message(response)}"
        self._failed += len(batch)
        self._lost_since_ok += len(batch)
        if self._problem is None:
            logger.warning(
                "cannot post %s to %s (%s); the demo goes on, counting what is lost",
                self.key,
                self.url,
                problem,
            )
        self._problem = problem

    def _succeeded(self, count: int) -> None:
        self._posted += count
        if self._problem is not None:
            logger.info(
                "posting %s to %s again (%d lost meanwhile)",
                self.key,
                self.url,
                self._lost_since_ok,
            )
        self._problem = None
        self._lost_since_ok = 0


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error", {})
        message = error.get("message") if isinstance(error, dict) else None
    except (ValueError, AttributeError):
        message = None
    return f": {message}" if isinstance(message, str) and message else ""
