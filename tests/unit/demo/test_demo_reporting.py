"""The demo reports what it predicts to Firewatch's events API, and the traffic generator sends
the true labels a little later, joined by request id; batched, and never in the traffic's way.
Firewatch is faked here by an httpx transport (the real one is in
tests/integration/test_demo_events.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from firewatch.demo.app import create_demo_app
from firewatch.demo.ingest import BatchPoster
from firewatch.demo.models import feature_names, load_split, size_features
from firewatch.demo.traffic import LabelOptions, TrafficOptions, run_traffic_async
from support.demo_registry import FakeRegistry

TOKEN = "fw_ingest-token"
FIREWATCH = "http://firewatch.test"


class FakeFirewatch:
    """Records the events and labels posted (``/api/v1/models/{model}/events`` or ``/labels``);
    ``status`` or ``down`` make it fail."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.labels: list[dict[str, Any]] = []
        self.requests: list[httpx.Request] = []
        self.status = 202
        self.down = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if self.status >= 400:
            body = {"error": {"code": "unauthorized", "message": "token refused"}}
            return httpx.Response(self.status, json=body)
        kind = request.url.path.rsplit("/", 1)[-1]
        items = json.loads(request.content)[kind]
        (self.events if kind == "events" else self.labels).extend(items)
        return httpx.Response(202, json={"accepted": len(items)})

    async def wait_for(self, what: Callable[[], bool], timeout: float = 3.0) -> None:
        deadline = time.monotonic() + timeout
        while not what():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"got {len(self.events)} events, {len(self.labels)} labels")
            await asyncio.sleep(0.01)


class Router(httpx.AsyncBaseTransport):
    """Sends each request to the transport of its host."""

    def __init__(self, routes: dict[str, httpx.AsyncBaseTransport]) -> None:
        self.routes = routes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.routes[request.url.host].handle_async_request(request)


def _registry(algorithm: str = "random_forest") -> FakeRegistry:
    registry = FakeRegistry()
    registry.add_version("v1", algorithm=algorithm)
    registry.set_alias("production", "v1")
    return registry


def _registry_and_firewatch(registry: FakeRegistry, firewatch: FakeFirewatch) -> httpx.AsyncClient:
    """The demo's client: the events API goes to the fake Firewatch, the rest to the registry
    (the demo posts its events to the Firewatch its registry URL names)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events"):
            return firewatch.handle(request)
        return registry.handle(request)

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


@asynccontextmanager
async def reporting_demo(
    firewatch: FakeFirewatch, registry: FakeRegistry | None = None
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    registry = registry or _registry()
    settings = registry.settings(
        http_client=_registry_and_firewatch(registry, firewatch),
        ingest_token=TOKEN,
        events_interval=0.02,
    )
    app = create_demo_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo") as client,
    ):
        yield client, app
    assert settings.http_client is not None
    await settings.http_client.aclose()


async def test_each_prediction_is_reported_with_its_features_class_score_and_version() -> None:
    firewatch = FakeFirewatch()
    rows = load_split().x_test[:3].tolist()
    async with reporting_demo(firewatch) as (client, _):
        answer = await client.post(
            "/predict", json={"instances": rows}, headers={"X-Request-ID": "req-42"}
        )
        await firewatch.wait_for(lambda: len(firewatch.events) == 3)
    assert answer.status_code == 200
    assert answer.headers["x-request-id"] == "req-42"
    body = answer.json()
    assert body["request_ids"] == ["req-42/0", "req-42/1", "req-42/2"]
    assert firewatch.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert firewatch.requests[0].url.path == "/api/v1/models/breast-cancer/events"
    for event, row, prediction, request_id in zip(
        firewatch.events, rows, body["predictions"], body["request_ids"], strict=True
    ):
        assert set(event) == {
            "request_id",
            "time",
            "model_version",
            "latency_ms",
            "prediction",
            "score",
            "features",
        }
        assert event["request_id"] == request_id
        assert event["model_version"] == "v1"
        assert event["prediction"] == prediction
        assert event["latency_ms"] >= 0
        assert datetime.fromisoformat(event["time"]).tzinfo is not None
        assert list(event["features"]) == list(feature_names())
        assert event["features"]["mean_radius"] == row[0]
        assert list(event["features"].values()) == row
        # the score is P(malignant): high exactly when the class predicted is 0 (malignant)
        assert 0 <= event["score"] <= 1
        assert (event["score"] > 0.5) == (prediction == 0)


async def test_a_request_without_an_id_gets_one_and_batches_share_a_post() -> None:
    firewatch = FakeFirewatch()
    row = load_split().x_test[0].tolist()
    async with reporting_demo(firewatch) as (client, _):
        answers = [await client.post("/predict", json={"instances": [row]}) for _ in range(5)]
        await firewatch.wait_for(lambda: len(firewatch.events) == 5)
    ids = [a.json()["request_ids"][0] for a in answers]
    assert len(set(ids)) == 5
    assert [a.headers["x-request-id"] for a in answers] == ids
    assert [e["request_id"] for e in firewatch.events] == ids
    assert len(firewatch.requests) < 5  # posted every interval, not per request


async def test_failures_are_error_events_and_refused_requests_are_not_reported() -> None:
    firewatch = FakeFirewatch()
    row = load_split().x_test[0].tolist()
    async with reporting_demo(firewatch) as (client, _):
        bad = await client.post("/predict", json={"instances": [[1.0, 2.0]]})
        await client.post("/admin/faults", json={"error_rate": 1.0})
        failed = await client.post(
            "/predict", json={"instances": [row, row]}, headers={"X-Request-ID": "f-1"}
        )
        await client.post("/admin/faults", json={"outage": True})
        down = await client.post(
            "/predict", json={"instances": [row]}, headers={"X-Request-ID": "o-1"}
        )
        await firewatch.wait_for(lambda: len(firewatch.events) == 2)
        await asyncio.sleep(0.05)
    assert (bad.status_code, failed.status_code, down.status_code) == (422, 500, 503)
    assert [(e["request_id"], e["error"], e["error_type"]) for e in firewatch.events] == [
        ("f-1", True, "injected_fault"),
        ("o-1", True, "outage"),
    ]
    assert all("prediction" not in e and e["model_version"] == "v1" for e in firewatch.events)


async def test_the_input_shift_fault_shows_in_the_reported_features() -> None:
    firewatch = FakeFirewatch()
    row = load_split().x_test[0].tolist()
    async with reporting_demo(firewatch) as (client, _):
        await client.post("/admin/faults", json={"input_shift": 2.0})
        await client.post("/predict", json={"instances": [row]})
        await firewatch.wait_for(lambda: len(firewatch.events) == 1)
    features = list(firewatch.events[0]["features"].values())
    for i, value in enumerate(features):
        assert value == pytest.approx(row[i] * 2.0 if i in size_features() else row[i])
    assert firewatch.events[0]["features"]["mean_radius"] == pytest.approx(2 * row[0])
    assert firewatch.events[0]["features"]["mean_texture"] == row[1]


async def test_a_firewatch_that_is_down_costs_events_never_predictions(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="firewatch.demo.ingest")
    firewatch = FakeFirewatch()
    firewatch.down = True
    row = load_split().x_test[0].tolist()
    async with reporting_demo(firewatch) as (client, app):
        reporter = app.state.predictor.reporter
        assert isinstance(reporter, BatchPoster)
        for _ in range(3):
            answers = [await client.post("/predict", json={"instances": [row]}) for _ in range(4)]
            assert [a.status_code for a in answers] == [200] * 4
            await asyncio.sleep(0.05)
        await firewatch.wait_for(lambda: reporter.stats.failed == 12)
        assert reporter.problem is not None and "ConnectError" in reporter.problem
        firewatch.down = False
        await client.post("/predict", json={"instances": [row]})
        await firewatch.wait_for(lambda: len(firewatch.events) == 1)
    assert reporter.stats.posted == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # logged once, not per failed post
    assert "cannot post events to http://registry.test/api/v1/models/breast-cancer" in warnings[0]
    assert any("again (12 lost meanwhile)" in r.getMessage() for r in caplog.records)


async def test_traffic_sends_the_true_labels_later_joined_by_request_id() -> None:
    firewatch = FakeFirewatch()
    split = load_split()
    truth = {
        tuple(row): int(label)
        for row, label in zip(split.x_test.tolist(), split.y_test, strict=True)
    }
    async with reporting_demo(firewatch) as (_, app):
        transport = Router(
            {
                "demo-model": httpx.ASGITransport(app=app),
                "firewatch.test": httpx.MockTransport(firewatch.handle),
            }
        )
        labels = LabelOptions(FIREWATCH, "breast-cancer", TOKEN, delay=0.2, interval=0.05)
        summary = await run_traffic_async(
            "http://demo-model",
            rps=50,
            duration=0.6,
            options=TrafficOptions(batch_size=2, labels=labels),
            transport=transport,
        )
        await firewatch.wait_for(lambda: len(firewatch.events) == summary.predicted)
    assert summary.failures == 0
    assert summary.labels is not None
    assert summary.labels.posted == summary.predicted == len(firewatch.labels)
    assert summary.labels.lost == 0
    assert f"; {summary.predicted} labels sent to Firewatch" in summary.format()
    label_posts = [r for r in firewatch.requests if r.url.path.endswith("/labels")]
    assert label_posts[0].url.path == "/api/v1/models/breast-cancer/labels"
    assert label_posts[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert 1 < len(label_posts) < len(firewatch.labels)  # batched, and sent during the run
    # every label joins its event, and is the true class of the row the event reports
    events = {e["request_id"]: e for e in firewatch.events}
    assert {label["request_id"] for label in firewatch.labels} == set(events)
    for label in firewatch.labels:
        row = tuple(events[label["request_id"]]["features"].values())
        assert label["label"] == truth[row]
    right = sum(events[lb["request_id"]]["prediction"] == lb["label"] for lb in firewatch.labels)
    assert summary.accuracy == right / len(firewatch.labels)


async def test_labels_that_cannot_be_sent_are_counted_and_the_traffic_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    firewatch = FakeFirewatch()
    firewatch.status = 401
    async with reporting_demo(FakeFirewatch()) as (_, app):
        transport = Router(
            {
                "demo-model": httpx.ASGITransport(app=app),
                "firewatch.test": httpx.MockTransport(firewatch.handle),
            }
        )
        labels = LabelOptions(FIREWATCH, "breast-cancer", "wrong", delay=0, interval=0.05)
        summary = await run_traffic_async(
            "http://demo-model",
            rps=50,
            duration=0.4,
            options=TrafficOptions(labels=labels),
            transport=transport,
        )
    assert summary.failures == 0 and summary.successes > 5
    assert summary.labels is not None
    assert summary.labels.posted == 0
    assert summary.labels.failed == summary.predicted
    assert summary.format().endswith(f"; 0 labels sent to Firewatch ({summary.predicted} lost)")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "cannot post labels to http://firewatch.test/api/v1/models/breast-cancer/labels "
        "(HTTP 401: token refused); the demo goes on, counting what is lost"
    ]


async def test_items_wait_for_their_delay_and_go_in_bounded_batches() -> None:
    firewatch = FakeFirewatch()
    async with httpx.AsyncClient(transport=httpx.MockTransport(firewatch.handle)) as client:
        poster = BatchPoster(
            client, f"{FIREWATCH}/api/v1/models/m/labels", "labels", delay=0.15, max_batch=2
        )
        for i in range(5):
            poster.add({"request_id": f"r{i}", "label": 1})
        await poster.flush()
        assert firewatch.labels == []
        assert poster.stats.waiting == 5
        await asyncio.sleep(0.2)
        await poster.flush()
    assert [len(json.loads(r.content)["labels"]) for r in firewatch.requests] == [2, 2, 1]
    assert [item["request_id"] for item in firewatch.labels] == [f"r{i}" for i in range(5)]
    assert poster.stats.posted == 5 and poster.stats.waiting == 0


async def test_a_full_buffer_drops_the_oldest_items_and_counts_them() -> None:
    firewatch = FakeFirewatch()
    async with httpx.AsyncClient(transport=httpx.MockTransport(firewatch.handle)) as client:
        poster = BatchPoster(client, f"{FIREWATCH}/api/v1/models/m/events", "events", max_buffer=2)
        for i in range(3):
            poster.add({"request_id": f"r{i}"})
        await poster.flush(everything=True)
    assert [e["request_id"] for e in firewatch.events] == ["r1", "r2"]
    assert (poster.stats.posted, poster.stats.dropped, poster.stats.lost) == (2, 1, 1)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"firewatch_url": "firewatch:8080"}, "firewatch_url must start with http"),
        ({"model": " "}, "model cannot be empty"),
        ({"delay": -1.0}, "delay cannot be negative"),
        ({"interval": 0.0}, "interval must be positive"),
    ],
)
def test_bad_label_options_are_refused(options: dict[str, Any], problem: str) -> None:
    arguments: dict[str, Any] = {"firewatch_url": FIREWATCH, "model": "m", **options}
    with pytest.raises(ValueError, match=problem):
        LabelOptions(**arguments)
