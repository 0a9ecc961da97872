"""The /admin/faults API: inspect, set, clear and validate injected faults."""

from __future__ import annotations

import time

import httpx
import pytest

from firewatch.demo.faults import FaultSettings
from firewatch.demo.models import feature_names, load_split, size_features
from firewatch.demo.predict import preprocess
from support.demo_registry import FakeRegistry, running_demo

ROW = [14.0, 20.0, 90.0, 600.0, 0.1, 0.1, 0.1, 0.05, 0.2, 0.06] * 3
NO_FAULTS = {"outage": False, "error_rate": 0.0, "latency_ms": 0, "input_shift": 1.0}


def _registry(algorithm: str = "logistic_regression") -> FakeRegistry:
    registry = FakeRegistry()
    registry.add_version("v1", algorithm=algorithm)
    registry.set_alias("production", "v1")
    return registry


async def test_faults_start_cleared_and_update_only_the_given_fields() -> None:
    async with running_demo(_registry().settings()) as client:
        assert (await client.get("/admin/faults")).json() == NO_FAULTS
        first = await client.post("/admin/faults", json={"error_rate": 0.25})
        second = await client.post("/admin/faults", json={"latency_ms": 10})
        current = await client.get("/admin/faults")
    assert first.json() == {**NO_FAULTS, "error_rate": 0.25}
    assert second.json() == {**NO_FAULTS, "error_rate": 0.25, "latency_ms": 10}
    assert current.json() == second.json()


async def test_delete_clears_every_fault() -> None:
    async with running_demo(_registry().settings()) as client:
        await client.post(
            "/admin/faults",
            json={"outage": True, "error_rate": 1, "latency_ms": 5, "input_shift": 2},
        )
        cleared = await client.delete("/admin/faults")
        answer = await client.post("/predict", json={"instances": [ROW]})
    assert cleared.json() == NO_FAULTS
    assert answer.status_code == 200


async def test_outage_makes_health_and_predict_answer_503() -> None:
    async with running_demo(_registry().settings()) as client:
        await client.post("/admin/faults", json={"outage": True})
        health = await client.get("/health")
        answer = await client.post("/predict", json={"instances": [ROW]})
    assert health.status_code == 503
    assert "outage" in health.json()["reason"]
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "outage"


async def test_error_rate_one_fails_every_prediction_with_injected_fault() -> None:
    async with running_demo(_registry().settings()) as client:
        await client.post("/admin/faults", json={"error_rate": 1.0})
        answers = [await client.post("/predict", json={"instances": [ROW]}) for _ in range(5)]
        health = await client.get("/health")
    assert [a.status_code for a in answers] == [500] * 5
    error = answers[0].json()["error"]
    assert error["code"] == "injected_fault"
    assert error["details"] == {"source": "admin_faults"}
    assert health.status_code == 200


async def test_latency_fault_delays_predictions() -> None:
    async with running_demo(_registry().settings()) as client:
        await client.post("/admin/faults", json={"latency_ms": 120})
        started = time.perf_counter()
        answer = await client.post("/predict", json={"instances": [ROW]})
    assert answer.status_code == 200
    assert time.perf_counter() - started >= 0.12


def test_input_shift_scales_only_the_size_features() -> None:
    rows = [list(ROW)]
    shifted = preprocess(rows, FaultSettings(input_shift=1.5))
    sizes = {feature_names()[i] for i in size_features()}
    assert sizes == {
        f"{kind}_{what}" if kind != "error" else f"{what}_error"
        for kind in ("mean", "error", "worst")
        for what in ("radius", "perimeter", "area")
    }
    for i, name in enumerate(feature_names()):
        expected = ROW[i] * 1.5 if name in sizes else ROW[i]
        assert shifted[0][i] == pytest.approx(expected), name
    assert rows == [ROW]  # the request's rows are not changed in place
    assert preprocess(rows, FaultSettings()) is rows


async def test_input_shift_makes_the_model_wrong_more_often() -> None:
    split = load_split()
    rows = split.x_test.tolist()

    async def accuracy(client: httpx.AsyncClient, shift: float) -> float:
        await client.post("/admin/faults", json={"input_shift": shift})
        answer = await client.post("/predict", json={"instances": rows})
        assert answer.status_code == 200
        predictions = answer.json()["predictions"]
        return sum(int(p == y) for p, y in zip(predictions, split.y_test, strict=True)) / len(rows)

    async with running_demo(_registry("random_forest").settings()) as client:
        normal = await accuracy(client, 1.0)
        shifted = await accuracy(client, 1.3)
        cleared = (await client.delete("/admin/faults")).json()
    assert normal > 0.9
    assert shifted < 0.85  # below the AccuracyLow rule's threshold
    assert cleared["input_shift"] == 1.0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"error_rate": 1.5}, "error_rate"),
        ({"error_rate": -0.1}, "error_rate"),
        ({"error_rate": "high"}, "error_rate"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"latency_ms": 1.5}, "latency_ms"),
        ({"outage": "yes"}, "outage"),
        ({"outages": True}, "outages"),
        ({"input_shift": 0}, "input_shift"),
        ({"input_shift": -1.3}, "input_shift"),
        ({"input_shift": "1.3"}, "input_shift"),
        ({"input_shift": 1e6}, "input_shift"),
        ([1, 2], "body"),
    ],
)
async def test_bad_fault_values_are_rejected_with_422(body: object, field: str) -> None:
    async with running_demo(_registry().settings()) as client:
        answer = await client.post("/admin/faults", json=body)
        current = await client.get("/admin/faults")
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"].startswith(f"{field}:")
    assert error["details"]["errors"][0]["field"] == field
    assert current.json() == NO_FAULTS
