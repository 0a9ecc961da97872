"""The demo's ML side end to end, in-process over a real Firewatch runtime: the demo model
(following the registry `firewatch demo up` seeds) reports its predictions, the traffic generator
sends the true labels later, and Firewatch judges accuracy, precision / recall / F1 / ROC-AUC and
drift against the reference the demo writes — quiet for normal traffic; the ``input_shift`` fault
opens an incident naming the drifted size features, with the data-drift hint."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from firewatch.api.app import create_app
from firewatch.api.fastlane import IngestFastLane
from firewatch.app import Runtime
from firewatch.clock import SystemClock
from firewatch.config import FirewatchConfig
from firewatch.demo.app import create_demo_app
from firewatch.demo.ingest import BatchPoster
from firewatch.demo.models import feature_names, size_features
from firewatch.demo.reference import write_reference
from firewatch.demo.settings import DemoSettings
from firewatch.demo.stack import DemoTokens, seed
from firewatch.demo.traffic import LabelOptions, TrafficOptions, TrafficSummary, run_traffic_async
from firewatch.detect.signals import SignalStore
from firewatch.store.db import Database

MODEL = "cancer-detector"
FIREWATCH = "http://firewatch"
DEMO = "http://demo-model"


class Router(httpx.AsyncBaseTransport):
    """Sends each request to the transport of its host."""

    def __init__(self, routes: dict[str, httpx.AsyncBaseTransport]) -> None:
        self.routes = routes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.routes[request.url.host].handle_async_request(request)


@dataclass
class Demo:
    runtime: Runtime
    tokens: DemoTokens
    transport: Router
    reporter: BatchPoster

    async def traffic(self, rows: int) -> TrafficSummary:
        """Send about ``rows`` test rows (4 a request), their labels 0.1 s later, and wait until
        the model reported them all."""
        stop = threading.Event()

        def enough(progress: TrafficSummary) -> None:
            if progress.predicted >= rows:
                stop.set()

        labels = LabelOptions(FIREWATCH, MODEL, self.tokens.ingest, delay=0.1, interval=0.1)
        options = TrafficOptions(
            batch_size=4, labels=labels, on_report=enough, report_interval=0.05
        )
        summary = await run_traffic_async(
            DEMO, rps=50, duration=20, stop_event=stop, options=options, transport=self.transport
        )
        deadline = time.monotonic() + 5
        while self.reporter.stats.posted < summary.predicted:  # the model's last events
            assert time.monotonic() < deadline, self.reporter.stats
            await asyncio.sleep(0.02)
        return summary

    def client(self, token: str) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.AsyncClient(transport=self.transport, base_url=FIREWATCH, headers=headers)


def config(reference: Path) -> FirewatchConfig:
    """The example config's cancer-detector, with windows judged every 200 ms."""
    return FirewatchConfig.model_validate(
        {
            "models": [
                {
                    "name": MODEL,
                    "events": {"window": "1m", "evaluate_every": "200ms", "positive_label": "0"},
                    "drift": {
                        "reference": str(reference),
                        "window": "1m",
                        "evaluate_every": "200ms",
                        "min_rows": 100,
                        "drift_share": 0.25,
                    },
                }
            ]
        }
    )


@asynccontextmanager
async def demo(db: Database, tmp_path: Path, *, run_workers: bool) -> AsyncIterator[Demo]:
    """Firewatch (registry seeded as `demo up` does) and the demo model, in-process."""
    tokens = seed(db, MODEL)
    runtime = Runtime(
        config(write_reference(tmp_path / "reference.csv")),
        db,
        clock=SystemClock(),
        run_workers=run_workers,
    )
    firewatch = httpx.ASGITransport(app=IngestFastLane(create_app(runtime)))
    await runtime.start()
    try:
        async with httpx.AsyncClient(transport=firewatch) as registry_client:
            settings = DemoSettings(
                model_name=MODEL,
                registry_url=FIREWATCH,
                token=tokens.service,
                poll_interval=0.1,
                http_client=registry_client,
                random_seed=1,
                ingest_token=tokens.ingest,
                events_interval=0.05,
            )
            model = create_demo_app(settings)
            async with model.router.lifespan_context(model):
                transport = Router(
                    {"firewatch": firewatch, "demo-model": httpx.ASGITransport(app=model)}
                )
                reporter = model.state.predictor.reporter
                assert isinstance(reporter, BatchPoster)
                yield Demo(runtime, tokens, transport, reporter)
    finally:
        await runtime.stop()


async def test_normal_traffic_gives_quality_signals_and_no_drift(
    sqlite_db: Database, tmp_path: Path
) -> None:
    async with demo(sqlite_db, tmp_path, run_workers=False) as stack:
        summary = await stack.traffic(200)
        store = SignalStore()
        stack.runtime.events.of(MODEL).publish(store, stack.runtime.clock.now())

    def value(signal: str) -> float:
        sample = store.latest(MODEL, signal)
        assert sample is not None, signal
        return sample.value

    assert summary.failures == 0 and summary.predicted >= 200
    assert summary.labels is not None and summary.labels.posted == summary.predicted
    assert stack.reporter.stats.lost == 0
    accuracy = store.latest(MODEL, "accuracy")
    assert accuracy is not None
    assert accuracy.context["labels"] == summary.predicted  # every label joined its event
    assert accuracy.value == pytest.approx(summary.accuracy)
    assert accuracy.value > 0.9
    assert accuracy.context["baseline_accuracy"] == pytest.approx(0.958, abs=0.01)
    assert value("roc_auc") > 0.95
    for quality in ("precision", "recall", "f1"):  # of malignant, the positive class
        assert 0.8 < value(quality) <= 1, quality
    assert value("latency_p95_s") < 1
    # the replayed rows match the reference: nothing drifted, no quality finding
    assert value("data_drift") == 0
    assert value("prediction_drift") == 0
    assert value("label_drift") == 0
    assert value("data_quality") == 0


async def until_incident(client: httpx.AsyncClient, *, alerts: set[str]) -> dict[str, Any]:
    """The model's incident once ``alerts`` have all joined it."""
    found: dict[str, Any] = {}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        items = (await client.get("/api/v1/incidents", params={"model": MODEL})).json()["items"]
        if items:
            found = (await client.get(f"/api/v1/incidents/{items[0]['id']}")).json()
            if alerts <= {signal["alertname"] for signal in found["signals"]}:
                return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"no incident with {alerts} for {MODEL}; last: {found}")


async def test_the_input_shift_fault_opens_a_drift_and_accuracy_incident(
    sqlite_db: Database, tmp_path: Path
) -> None:
    async with (
        demo(sqlite_db, tmp_path, run_workers=True) as stack,
        stack.client(stack.tokens.user) as api,
        httpx.AsyncClient(transport=stack.transport, base_url=DEMO) as model,
    ):
        shift = await model.post("/admin/faults", json={"input_shift": 1.3})
        assert shift.json()["input_shift"] == 1.3
        summary = await stack.traffic(200)
        incident = await until_incident(api, alerts={"DataDrift", "AccuracyLow"})
        found = await api.get("/api/v1/alerts", params={"model": MODEL})
        alerts = {a["alertname"]: a["annotations"] for a in found.json()}

    assert summary.failures == 0
    assert summary.accuracy is not None and summary.accuracy < 0.85
    assert incident["severity"] in ("SEV1", "SEV2")  # AccuracyLow raised it
    drift = alerts["DataDrift"]["description"]
    assert "9 of 30 features drifted" in drift
    for column in size_features():
        assert f"- {feature_names()[column]}: drifted, ks" in drift
    assert "mean_texture: drifted" not in drift
    assert "Hint: data drift likely" in drift
    assert "below 85.0%" in alerts["AccuracyLow"]["summary"]
