"""Runs every configured model's probes and scrapes on their intervals."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Histogram

from firewatch.clock import Clock
from firewatch.config import ModelConfig, ProbeConfig
from firewatch.detect.error_rate import ErrorRateDetector
from firewatch.detect.probes import HealthProbe
from firewatch.detect.sink import DetectionSink

log = logging.getLogger(__name__)


class DetectionRunner:
    """Owns one HealthProbe and one ErrorRateDetector per model that configures them."""

    def __init__(
        self,
        models: list[ModelConfig],
        *,
        sink: DetectionSink,
        clock: Clock,
        client: httpx.AsyncClient,
        registry: CollectorRegistry | None = None,
    ) -> None:
        latency = Histogram(
            "firewatch_probe_duration_seconds",
            "Health probe latency per model.",
            ["model"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.probes = [
            HealthProbe(m, sink=sink, clock=clock, client=client, latency=latency)
            for m in models
            if m.health_url is not None
        ]
        self.error_rates = [
            ErrorRateDetector(m, sink=sink, clock=clock, client=client)
            for m in models
            if m.metrics_url is not None and m.error_rate.enabled
        ]

    async def run(self) -> None:
        """Run every detector until cancelled."""
        loops = [_every(p.model.probe, p.check, f"probe {p.model.name}") for p in self.probes] + [
            _every(d.model.probe, d.check, f"error rate {d.model.name}", d.config.interval)
            for d in self.error_rates
        ]
        if loops:
            await asyncio.gather(*loops)


async def _every(
    probe: ProbeConfig,
    check: Callable[[], Awaitable[Any]],
    what: str,
    every: timedelta | None = None,
) -> None:
    """Run ``check`` every ``every`` (default: the probe interval) after the initial delay."""
    interval = (every or probe.interval).total_seconds()
    await asyncio.sleep(probe.initial_delay.total_seconds())
    while True:
        started = time.monotonic()
        try:
            await check()
        except asyncio.CancelledError:
            raise
        except Exception:  # a failing detector must keep running, loudly
            log.exception("%s failed", what)
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
