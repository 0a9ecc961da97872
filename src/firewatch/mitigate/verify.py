"""Verification: after an action, wait until the health check passes enough times in a row."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx

from firewatch.detect.probes import ProbeResult, probe_once


@dataclass(frozen=True)
class Verification:
    recovered: bool
    probes: int
    waited_s: float
    last: ProbeResult | None


async def wait_for_health(
    client: httpx.AsyncClient,
    url: str,
    *,
    deadline_s: float,
    interval_s: float,
    timeout_s: float,
    consecutive: int,
) -> Verification:
    """Probe ``url`` every ``interval_s`` until ``consecutive`` successes in a row or the deadline."""
    started = time.monotonic()
    streak, probes = 0, 0
    last: ProbeResult | None = None
    while True:
        last = await probe_once(client, url, timeout_s)
        probes += 1
        streak = streak + 1 if last.ok else 0
        waited = time.monotonic() - started
        if streak >= consecutive:
            return Verification(True, probes, waited, last)
        if waited + interval_s > deadline_s:
            return Verification(False, probes, waited, last)
        await asyncio.sleep(interval_s)
