"""The traffic generator: steady /predict load from the test split that counts failures."""

from __future__ import annotations

import asyncio
import collections
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from firewatch.demo.models import load_split

MAX_RPS = 1000.0
_MAX_SLEEP = 0.05
"""Longest single sleep, so a stop request is noticed quickly even at a low rate."""

ReportCallback = Callable[["TrafficSummary"], None]


@dataclass(frozen=True)
class TrafficSummary:
    """What a traffic run did: requests completed, failures by reason, latency and accuracy."""

    requests: int
    successes: int
    failures_by_reason: dict[str, int]
    mean_latency_ms: float | None
    max_latency_ms: float | None
    elapsed_seconds: float
    predicted: int
    correct: int

    @property
    def failures(self) -> int:
        return sum(self.failures_by_reason.values())

    @property
    def accuracy(self) -> float | None:
        """Share of predictions matching the test-split label, or None if nothing was predicted."""
        return self.correct / self.predicted if self.predicted else None

    def format(self) -> str:
        """One human-readable line, e.g. for the CLI to print."""
        rate = self.requests / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0
        text = f"{self.requests} requests in {self.elapsed_seconds:.1f}s ({rate:.1f}/s): "
        text += f"{self.successes} ok, {self.failures} failed"
        if self.failures_by_reason:
            reasons = ", ".join(f"{k}: {v}" for k, v in sorted(self.failures_by_reason.items()))
            text += f" ({reasons})"
        if self.mean_latency_ms is not None and self.max_latency_ms is not None:
            text += (
                f"; latency mean {self.mean_latency_ms:.1f} ms, max {self.max_latency_ms:.1f} ms"
            )
        if self.accuracy is not None:
            text += f"; accuracy {self.accuracy:.3f}"
        return text


@dataclass
class _Stats:
    started: float = field(default_factory=time.monotonic)
    successes: int = 0
    failures: collections.Counter[str] = field(default_factory=collections.Counter)
    answered: int = 0
    latency_total: float = 0.0
    latency_max: float = 0.0
    predicted: int = 0
    correct: int = 0

    def summary(self) -> TrafficSummary:
        answered = self.answered
        return TrafficSummary(
            requests=self.successes + sum(self.failures.values()),
            successes=self.successes,
            failures_by_reason=dict(self.failures),
            mean_latency_ms=1000 * self.latency_total / answered if answered else None,
            max_latency_ms=1000 * self.latency_max if answered else None,
            elapsed_seconds=time.monotonic() - self.started,
            predicted=self.predicted,
            correct=self.correct,
        )

    def record_answer(self, response: httpx.Response, labels: list[int], seconds: float) -> None:
        self.answered += 1
        self.latency_total += seconds
        self.latency_max = max(self.latency_max, seconds)
        if not response.is_success:
            self.failures[f"http_{response.status_code}"] += 1
            return
        predictions = _predictions(response, len(labels))
        if predictions is None:
            self.failures["invalid_response"] += 1
            return
        self.successes += 1
        self.predicted += len(labels)
        self.correct += sum(int(p == y) for p, y in zip(predictions, labels, strict=True))


def _predictions(response: httpx.Response, expected: int) -> list[object] | None:
    try:
        predictions = response.json().get("predictions")
    except (ValueError, AttributeError):
        return None
    if isinstance(predictions, list) and len(predictions) == expected:
        return predictions
    return None


@dataclass(frozen=True)
class TrafficOptions:
    """Less common knobs of a traffic run."""

    batch_size: int = 1
    timeout: float = 5.0
    max_in_flight: int = 100
    seed: int = 0
    on_report: ReportCallback | None = None
    report_interval: float = 1.0

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if not self.timeout > 0 or not self.report_interval > 0:
            raise ValueError("timeout and report_interval must be positive")
        if self.max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {self.max_in_flight}")


@dataclass(frozen=True)
class _Plan:
    predict_url: str
    rps: float
    duration: float | None
    stop_event: threading.Event | None
    options: TrafficOptions


class _Rows:
    """Random test-split rows with their labels, reproducible for a given seed."""

    def __init__(self, seed: int, batch_size: int) -> None:
        split = load_split()
        self._rows: list[list[float]] = split.x_test.tolist()
        self._labels: list[int] = [int(label) for label in split.y_test]
        self._rng = random.Random(seed)
        self._batch_size = batch_size

    def next_batch(self) -> tuple[list[list[float]], list[int]]:
        picks = [self._rng.randrange(len(self._rows)) for _ in range(self._batch_size)]
        return [self._rows[i] for i in picks], [self._labels[i] for i in picks]


async def _send(
    client: httpx.AsyncClient,
    plan: _Plan,
    batch: tuple[list[list[float]], list[int]],
    stats: _Stats,
) -> None:
    rows, labels = batch
    started = time.monotonic()
    try:
        response = await client.post(plan.predict_url, json={"instances": rows})
    except httpx.TimeoutException:
        stats.failures["timeout"] += 1
    except httpx.HTTPError:
        stats.failures["connection_error"] += 1
    else:
        stats.record_answer(response, labels, time.monotonic() - started)


def _should_stop(plan: _Plan, deadline: float | None) -> bool:
    if plan.stop_event is not None and plan.stop_event.is_set():
        return True
    return deadline is not None and time.monotonic() >= deadline


async def _sleep_until(moment: float, plan: _Plan, deadline: float | None) -> None:
    while not _should_stop(plan, deadline):
        remaining = moment - time.monotonic()
        if remaining <= 0:
            return
        await asyncio.sleep(min(remaining, _MAX_SLEEP))


async def _drive(
    plan: _Plan, stats: _Stats, transport: httpx.AsyncBaseTransport | None
) -> TrafficSummary:
    rows = _Rows(plan.options.seed, plan.options.batch_size)
    stats.started = time.monotonic()  # measure the run, not the dataset loading
    interval = 1.0 / plan.rps
    deadline = None if plan.duration is None else stats.started + plan.duration
    limiter = asyncio.Semaphore(plan.options.max_in_flight)
    next_report = stats.started + plan.options.report_interval

    async def send_one(batch: tuple[list[list[float]], list[int]]) -> None:
        try:
            await _send(client, plan, batch, stats)
        finally:
            limiter.release()

    async with (
        httpx.AsyncClient(transport=transport, timeout=plan.options.timeout) as client,
        asyncio.TaskGroup() as tasks,
    ):
        next_at = time.monotonic()
        while not _should_stop(plan, deadline):
            await limiter.acquire()
            tasks.create_task(send_one(rows.next_batch()))
            next_at = max(next_at + interval, time.monotonic() - interval)  # no burst after a stall
            await _sleep_until(next_at, plan, deadline)
            if plan.options.on_report is not None and time.monotonic() >= next_report:
                plan.options.on_report(stats.summary())
                next_report += plan.options.report_interval
    return stats.summary()


def _plan(
    url: str,
    rps: float,
    duration: float | None,
    stop_event: threading.Event | None,
    options: TrafficOptions,
) -> _Plan:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = httpx.URL()
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"url must be an http(s) URL of the demo service, got {url!r}")
    if not 0 < rps <= MAX_RPS:
        raise ValueError(f"rps must be above 0 and at most {MAX_RPS:g}, got {rps}")
    if duration is not None and duration < 0:
        raise ValueError(f"duration cannot be negative, got {duration}")
    return _Plan(
        predict_url=f"{url.rstrip('/')}/predict",
        rps=rps,
        duration=duration,
        stop_event=stop_event,
        options=options,
    )


async def run_traffic_async(
    url: str,
    rps: float,
    duration: float | None = None,
    stop_event: threading.Event | None = None,
    *,
    options: TrafficOptions | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> TrafficSummary:
    """Async form of :func:`run_traffic`, for callers already inside an event loop."""
    plan = _plan(url, rps, duration, stop_event, options or TrafficOptions())
    return await _drive(plan, _Stats(), transport)


def run_traffic(
    url: str,
    rps: float,
    duration: float | None = None,
    stop_event: threading.Event | None = None,
    *,
    options: TrafficOptions | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> TrafficSummary:
    """Send test-split rows to ``{url}/predict`` at about ``rps`` requests/s and summarise the run.

    Runs for ``duration`` seconds, until ``stop_event`` is set, or (with neither) until Ctrl-C;
    Ctrl-C also ends the run and returns the summary of the requests completed so far. Requests are
    sent on schedule whether or not earlier ones have been answered (at most
    ``options.max_in_flight`` at once), and failures (HTTP errors, timeouts, refused connections)
    are counted rather than raised, so a service that is down does not stop the generator.
    """
    plan = _plan(url, rps, duration, stop_event, options or TrafficOptions())
    stats = _Stats()
    try:
        return asyncio.run(_drive(plan, stats, transport))
    except KeyboardInterrupt:
        return stats.summary()
