"""Building the StepContext a runbook step receives, and a model service whose traffic moves."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from firewatch.clock import FakeClock
from firewatch.config import FirewatchConfig
from firewatch.runbooks.steps.base import IncidentView, StepContext
from firewatch.store.db import Database
from firewatch.store.writer import Writer

BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, math.inf)


def make_context(
    tmp_path: Path,
    client: httpx.AsyncClient,
    *,
    config: dict[str, Any] | None = None,
    model: str | None = "iris",
    dry_run: bool = False,
    labels: dict[str, str] | None = None,
) -> StepContext:
    """A context for incident INC-2026-007 (SEV2) about ``model``, under ``config``."""
    settings = FirewatchConfig.model_validate(config or {})
    db = Database(f"sqlite:///{tmp_path}/steps.db")  # steps under test do not touch it
    return StepContext(
        incident=IncidentView(
            7,
            "INC-2026-007",
            model,
            "v2",
            datetime(2026, 1, 15, 14, 30, tzinfo=UTC),
            "triggered",
            severity="SEV2",
            labels=labels or {},
        ),
        model=settings.model(model) if model else None,
        settings=settings.runbooks,
        db=db,
        writer=Writer(db),
        clock=FakeClock(),
        client=client,
        actor="firewatch:runbook",
        config=settings,
        dry_run=dry_run,
    )


class Traffic:
    """Counters of a model service serving ``rps`` requests a second, ``error_share`` of them
    failing, each taking ``latency`` seconds; exposed at ``/metrics`` in Firewatch's demo names.
    The counters start at ``history`` requests, half of them failed (the incident's past)."""

    def __init__(self, model: str = "iris", *, history: float = 0.0) -> None:
        self.model = model
        self.rps = 0.0
        self.error_share = 0.0
        self.latency = 0.05
        self.requests = history
        self.errors = history / 2
        self.latency_sum = history * 3.0
        self.buckets = {bound: history if bound == math.inf else 0.0 for bound in BUCKETS}
        self.down = False
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def restart(self) -> None:
        """The process restarts: every counter starts again from 0."""
        with self._lock:
            self._advance()
            self.requests = self.errors = self.latency_sum = 0.0
            self.buckets = dict.fromkeys(BUCKETS, 0.0)

    def set(
        self,
        *,
        rps: float | None = None,
        error_share: float | None = None,
        latency: float | None = None,
    ) -> None:
        with self._lock:
            self._advance()
            self.rps = self.rps if rps is None else rps
            self.error_share = self.error_share if error_share is None else error_share
            self.latency = self.latency if latency is None else latency

    def _advance(self) -> None:
        now = time.monotonic()
        served = self.rps * (now - self._last)
        self._last = now
        self.requests += served
        self.errors += served * self.error_share
        self.latency_sum += served * self.latency
        for bound in BUCKETS:
            if self.latency <= bound:
                self.buckets[bound] += served

    def text(self) -> str:
        with self._lock:
            self._advance()
            where = f'model="{self.model}",version="v1"'
            lines = [
                "# TYPE model_requests_total counter",
                f"model_requests_total{{{where}}} {self.requests}",
                "# TYPE model_request_errors_total counter",
                f"model_request_errors_total{{{where}}} {self.errors}",
                "# TYPE model_request_duration_seconds histogram",
            ]
            for bound, count in self.buckets.items():
                le = "+Inf" if bound == math.inf else repr(bound)
                lines.append(f'model_request_duration_seconds_bucket{{{where},le="{le}"}} {count}')
            lines += [
                f"model_request_duration_seconds_sum{{{where}}} {self.latency_sum}",
                f"model_request_duration_seconds_count{{{where}}} {self.requests}",
                "# TYPE process_resident_memory_bytes gauge",
                "process_resident_memory_bytes 600000000",
            ]
            return "\n".join(lines) + "\n"

    def app(self) -> Starlette:
        return metrics_app(lambda: self)


def metrics_app(current: Callable[[], Traffic]) -> Starlette:
    """``/metrics`` of whichever Traffic ``current()`` returns (503 while it is down)."""

    async def metrics(_request: Request) -> PlainTextResponse:
        feed = current()
        if feed.down:
            return PlainTextResponse("starting", status_code=503)
        return PlainTextResponse(feed.text())

    return Starlette(routes=[Route("/metrics", metrics)])
