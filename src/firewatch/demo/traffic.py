"""The traffic generator: steady /predict load from the test split that counts failures, and
(optionally) sends Firewatch the true labels of what was predicted, a few seconds later."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from firewatch.demo.ingest import BatchPoster, PostStats, ingest_url
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
    labels: PostStats | None = None
    """The true labels sent to Firewatch (None when they are not sent)."""

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
        if self.labels is not None:
            text += f"; {self.labels.posted} labels sent to Firewatch"
            if self.labels.lost:
                text += f" ({self.labels.lost} lost)"
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
    label_poster: BatchPoster | None = None

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
            labels=self.label_poster.stats if self.label_poster is not None else None,
        )

    def record_answer(self, response: httpx.Response, labels: list[int], seconds: float) -> None:
        self.answered += 1
        self.latency_total += seconds
        self.latency_max = max(self.latency_max, seconds)
        if not response.is_success:
            self.failures[f"http_{response.status_code}"] += 1
            return
        body = _json(response)
        predictions = _list_of(body, "predictions", len(labels))
        if predictions is None:
            self.failures["invalid_response"] += 1
            return
        self.successes += 1
        self.predicted += len(labels)
        self.correct += sum(int(p == y) for p, y in zip(predictions, labels, strict=True))
        ids = _list_of(body, "request_ids", len(labels))
        if self.label_poster is not None and ids is not None:
            for request_id, label in zip(ids, labels, strict=True):
                if isinstance(request_id, str):
                    self.label_poster.add({"request_id": request_id, "label": label})


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def _list_of(body: object, key: str, expected: int) -> list[object] | None:
    found = body.get(key) if isinstance(body, dict) else None
    if isinstance(found, list) and len(found) == expected:
        return found
    return None


@dataclass(frozen=True)
class LabelOptions:
    """Send the true label of every row predicted to Firewatch's ``/labels`` API, ``delay``
    seconds later (ground truth comes after the prediction), in a batch every ``interval``.

    The rows are joined with the inference events the model service reported by the
    ``request_ids`` of its answers."""

    firewatch_url: str
    model: str
    token: str | None = None
    delay: float = 3.0
    interval: float = 1.0

    def __post_init__(self) -> None:
        if not self.firewatch_url.startswith(("http://", "https://")):
            raise ValueError(
                f"firewatch_url must start with http:// or https://, got {self.firewatch_url!r}"
            )
        if not self.model.strip():
            raise ValueError("model cannot be empty")
        if self.delay < 0 or not self.interval > 0:
            raise ValueError("delay cannot be negative and interval must be positive")


@dataclass(frozen=True)
class TrafficOptions:
    """Less common knobs of a traffic run."""

    batch_size: int = 1
    timeout: float = 5.0
    max_in_flight: int = 100
    seed: int = 0
    on_report: ReportCallback | None = None
    report_interval: float = 1.0
    labels: LabelOptions | None = None

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
    headers = {"X-Request-ID": uuid.uuid4().hex}
    try:
        response = await client.post(plan.predict_url, json={"instances": rows}, headers=headers)
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

    async with httpx.AsyncClient(transport=transport, timeout=plan.options.timeout) as client:
        stats.label_poster = poster = _label_poster(client, plan.options.labels)
        flusher = None if poster is None else asyncio.create_task(poster.run_forever())
        try:
            async with asyncio.TaskGroup() as tasks:
                next_at = time.monotonic()
                while not _should_stop(plan, deadline):
                    await limiter.acquire()
                    tasks.create_task(send_one(rows.next_batch()))
                    # no burst after a stall
                    next_at = max(next_at + interval, time.monotonic() - interval)
                    await _sleep_until(next_at, plan, deadline)
                    if plan.options.on_report is not None and time.monotonic() >= next_report:
                        plan.options.on_report(stats.summary())
                        next_report += plan.options.report_interval
        finally:
            if flusher is not None:
                flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await flusher
        if poster is not None:
            await poster.flush(everything=True)  # the run is over: no need to wait for the delay
    return stats.summary()


def _label_poster(client: httpx.AsyncClient, options: LabelOptions | None) -> BatchPoster | None:
    if options is None:
        return None
    return BatchPoster(
        client,
        ingest_url(options.firewatch_url, options.model, "labels"),
        "labels",
        token=options.token,
        interval=options.interval,
        delay=options.delay,
    )


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

    With ``options.labels``, the true label of each row predicted is sent to Firewatch a few
    seconds later (so it can judge accuracy); failing to send them never stops the traffic.
    """
    plan = _plan(url, rps, duration, stop_event, options or TrafficOptions())
    stats = _Stats()
    try:
        return asyncio.run(_drive(plan, stats, transport))
    except KeyboardInterrupt:
        return stats.summary()
