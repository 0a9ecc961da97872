"""Drift from inference events over a real runtime: a reference file, events whose inputs move,
and a DataDrift incident that names the drifted features, their test and since when; labels
giving precision / recall / F1 / ROC-AUC; a reference collected from the first traffic."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sklearn import metrics

from firewatch.clock import FakeClock, SystemClock
from firewatch.config import DriftConfig, EventsConfig, FirewatchConfig, ModelConfig
from firewatch.detect.events import EventIn, InferenceEvents, LabelIn
from firewatch.detect.signals import SignalStore
from firewatch.errors import ConfigError
from firewatch.store.db import Database
from support.api import api_client

RNG = np.random.default_rng(7)


def write_reference(path: Path, rows: int = 3000) -> Path:
    age = RNG.normal(40, 10, rows)
    income = RNG.lognormal(10, 0.5, rows)
    plan = RNG.choice(["free", "pro", "team"], rows, p=[0.6, 0.3, 0.1])
    prediction = (age > 45).astype(int)
    label = prediction.copy()
    lines = ["age,income,plan,prediction,label"]
    lines += [
        f"{a:.3f},{i:.2f},{p},{y},{t}"
        for a, i, p, y, t in zip(age, income, plan, prediction, label, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def events(
    start: int, count: int, *, age_shift: float = 0.0, version: str = "v1"
) -> list[dict[str, Any]]:
    age = RNG.normal(40 + age_shift, 10, count)
    income = RNG.lognormal(10, 0.5, count)
    plan = RNG.choice(["free", "pro", "team"], count, p=[0.6, 0.3, 0.1])
    return [
        {
            "request_id": f"r{start + k}",
            "model_version": version,
            "latency_ms": 12,
            "prediction": int(a > 45),
            "features": {"age": float(a), "income": float(i), "plan": str(p)},
        }
        for k, (a, i, p) in enumerate(zip(age, income, plan, strict=True))
    ]


async def until_incident(client: httpx.AsyncClient, model: str) -> dict[str, Any]:
    for _ in range(200):
        items = (await client.get("/api/v1/incidents", params={"model": model})).json()["items"]
        if items:
            found: dict[str, Any] = (await client.get(f"/api/v1/incidents/{items[0]['id']}")).json()
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no incident for {model}")


def config_for(reference: Path, **drift: Any) -> FirewatchConfig:
    return FirewatchConfig.model_validate(
        {
            "models": [
                {
                    "name": "scorer",
                    "events": {"evaluate_every": "200ms", "min_events": 20, "min_labels": 20},
                    "drift": {
                        "reference": str(reference),
                        "evaluate_every": "200ms",
                        "min_rows": 200,
                        **drift,
                    },
                }
            ]
        }
    )


async def test_inputs_that_move_open_a_data_drift_incident_naming_the_features(
    sqlite_db: Database, tmp_path: Path
) -> None:
    config = config_for(write_reference(tmp_path / "reference.csv"), drift_share=0.3)
    async with api_client(sqlite_db, SystemClock(), config=config, run_workers=True) as (client, _):
        same = await client.post("/api/v1/models/scorer/events", json={"events": events(0, 1500)})
        assert same.status_code == 202
        await asyncio.sleep(0.6)
        assert (await client.get("/api/v1/incidents")).json()["items"] == []

        moved = events(10_000, 6000, age_shift=15.0)
        await client.post("/api/v1/models/scorer/events", json={"events": moved})
        incident = await until_incident(client, "scorer")
        assert incident["severity"] == "SEV3"
        description = incident["description"]
        assert "features drifted" in description
        assert "age: drifted, wasserstein" in description
        assert "since " in description
        assert "income" not in description.split("Hint")[0].split("drifted,")[-1]
        assert "data drift likely" in description


def test_an_unreadable_reference_is_a_config_error(tmp_path: Path) -> None:
    broken = tmp_path / "reference.csv"
    broken.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="drift reference"):
        InferenceEvents(config_for(broken).models)
    with pytest.raises(ValueError, match="is a directory"):
        DriftConfig.model_validate({"reference": str(tmp_path)})
    with pytest.raises(ValueError, match="unknown drift test"):
        DriftConfig.model_validate({"collect": "1h", "test": "magic"})


def test_a_reference_collected_from_the_first_traffic_then_watched(clock: FakeClock) -> None:
    model = ModelConfig(
        name="m",
        events=EventsConfig(min_events=20),
        drift=DriftConfig.model_validate(
            {"collect": "10m", "min_rows": 100, "evaluate_every": "1m", "drift_share": 0.3}
        ),
    )
    windows = InferenceEvents([model])
    store = SignalStore()
    scorer = windows.of("m")
    scorer.add_events([EventIn(**e) for e in events(0, 2000)], clock.now())
    scorer.publish(store, clock.now())
    assert scorer.drift is not None and scorer.drift.profile is None  # still collecting
    clock.advance(timedelta(minutes=11))
    scorer.publish(store, clock.now())
    assert scorer.drift.profile is not None and scorer.drift.profile.rows == 2000
    clock.advance(timedelta(minutes=2))
    scorer.add_events([EventIn(**e) for e in events(5000, 1500, age_shift=20)], clock.now())
    scorer.publish(store, clock.now())
    drift = store.latest("m", "data_drift")
    assert drift is not None and drift.value == 1.0
    prediction = store.latest("m", "prediction_drift")
    assert prediction is not None and prediction.value == 1.0  # older people → more positives


def test_labels_give_precision_recall_f1_and_roc_auc_like_scikit_learn(clock: FakeClock) -> None:
    windows = InferenceEvents([ModelConfig(name="m", events=EventsConfig(min_labels=10))])
    scorer = windows.of("m")
    truth = RNG.integers(0, 2, 400)
    scores = np.clip(truth * 0.3 + RNG.uniform(0, 0.7, 400), 0, 1)
    predicted = (scores > 0.5).astype(int)
    scorer.add_events(
        [
            EventIn(request_id=f"q{i}", prediction=int(p), score=float(s))
            for i, (p, s) in enumerate(zip(predicted, scores, strict=True))
        ],
        clock.now(),
    )
    # labels arrive out of order, some before their prediction
    order = RNG.permutation(400)
    scorer.add_labels(
        [LabelIn(request_id=f"q{i}", label=int(truth[i])) for i in order], clock.now()
    )
    store = SignalStore()
    scorer.publish(store, clock.now())

    def value(name: str) -> float:
        sample = store.latest("m", name)
        assert sample is not None, name
        return sample.value

    assert value("accuracy") == pytest.approx(metrics.accuracy_score(truth, predicted))
    assert value("precision") == pytest.approx(metrics.precision_score(truth, predicted))
    assert value("recall") == pytest.approx(metrics.recall_score(truth, predicted))
    assert value("f1") == pytest.approx(metrics.f1_score(truth, predicted))
    assert value("roc_auc") == pytest.approx(metrics.roc_auc_score(truth, scores), abs=0.005)


def test_regression_labels_give_mae_and_rmse(clock: FakeClock) -> None:
    windows = InferenceEvents([ModelConfig(name="m", events=EventsConfig(min_labels=10))])
    scorer = windows.of("m")
    truth = RNG.normal(100, 15, 300)
    predicted = truth + RNG.normal(0, 5, 300)
    scorer.add_events(
        [EventIn(request_id=f"q{i}", prediction=float(p)) for i, p in enumerate(predicted)],
        clock.now(),
    )
    scorer.add_labels(
        [LabelIn(request_id=f"q{i}", label=float(t)) for i, t in enumerate(truth)], clock.now()
    )
    store = SignalStore()
    scorer.publish(store, clock.now())
    mae, rmse = store.latest("m", "mae"), store.latest("m", "rmse")
    assert mae is not None and mae.value == pytest.approx(
        metrics.mean_absolute_error(truth, predicted)
    )
    assert rmse is not None
    assert rmse.value == pytest.approx(np.sqrt(metrics.mean_squared_error(truth, predicted)))
    assert store.latest("m", "accuracy") is None


def test_broken_inputs_are_data_quality_findings_naming_the_columns(
    clock: FakeClock, tmp_path: Path
) -> None:
    config = config_for(write_reference(tmp_path / "reference.csv"))
    windows = InferenceEvents(config.models)
    scorer = windows.of("scorer")
    broken = events(0, 500)
    for k, event in enumerate(broken):
        event["features"]["income"] = None  # the upstream join broke
        event["features"]["plan"] = "enterprise" if k % 2 else event["features"]["plan"]
        event["features"]["region"] = "eu"  # a feature the reference never had
    scorer.add_events([EventIn(**e) for e in broken], clock.now())
    store = SignalStore()
    scorer.publish(store, clock.now())
    quality = store.latest("scorer", "data_quality")
    assert quality is not None and quality.value >= 3
    detail = quality.context["detail"]
    assert "[critical] `income`" in detail
    assert "enterprise" in detail
    assert "region" in detail


def test_a_reference_written_after_start_is_picked_up(clock: FakeClock, tmp_path: Path) -> None:
    config = config_for(tmp_path / "later.csv")
    windows = InferenceEvents(config.models)  # no file yet: a warning, not an error
    scorer = windows.of("scorer")
    assert scorer.drift is not None and scorer.drift.profile is None
    scorer.add_events([EventIn(**e) for e in events(0, 300)], clock.now())
    store = SignalStore()
    scorer.publish(store, clock.now())
    assert store.latest("scorer", "data_drift") is None
    write_reference(tmp_path / "later.csv")
    clock.advance(timedelta(minutes=1))
    scorer.publish(store, clock.now())
    assert scorer.drift.profile is not None and scorer.drift.profile.rows == 3000
