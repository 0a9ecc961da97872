"""Each ``metadata.broken`` mode breaks the served version the way the demo scenarios need."""

from __future__ import annotations

import time

import httpx

from firewatch.demo.models import load_split
from support.demo_registry import FakeRegistry, running_demo

ROW = [14.0, 20.0, 90.0, 600.0, 0.1, 0.1, 0.1, 0.05, 0.2, 0.06] * 3


def _registry_serving(**metadata: object) -> FakeRegistry:
    registry = FakeRegistry()
    registry.add_version("v3", **metadata)
    registry.set_alias("production", "v3")
    return registry


async def _predict(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post("/predict", json={"instances": [ROW]})


async def test_crash_makes_health_and_predict_answer_503() -> None:
    registry = _registry_serving(algorithm="random_forest", broken="crash")
    async with running_demo(registry.settings()) as client:
        health = await client.get("/health")
        answer = await _predict(client)
    assert health.status_code == 503
    assert health.json()["status"] == "unavailable"
    assert health.json()["version"] == "v3"
    assert "failed to load" in health.json()["reason"]
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "model_unavailable"


async def test_errors_fail_about_the_configured_share_of_predictions() -> None:
    registry = _registry_serving(broken="errors", broken_rate=0.3)
    async with running_demo(registry.settings()) as client:
        assert (await client.get("/health")).status_code == 200
        answers = [await _predict(client) for _ in range(200)]
    failed = [a for a in answers if a.status_code == 500]
    assert all(a.status_code in (200, 500) for a in answers)
    assert 30 <= len(failed) <= 90
    assert failed[0].json()["error"]["code"] == "injected_fault"


async def test_errors_default_to_half_of_the_predictions() -> None:
    registry = _registry_serving(broken="errors")
    async with running_demo(registry.settings()) as client:
        answers = [await _predict(client) for _ in range(200)]
    assert 70 <= sum(a.status_code == 500 for a in answers) <= 130


async def test_slow_adds_the_configured_latency_to_each_prediction() -> None:
    registry = _registry_serving(broken="slow", broken_latency_ms=150)
    async with running_demo(registry.settings()) as client:
        assert (await client.get("/health")).status_code == 200
        started = time.perf_counter()
        answer = await _predict(client)
        elapsed = time.perf_counter() - started
    assert answer.status_code == 200
    assert 0.15 <= elapsed < 1.0


async def test_inaccurate_version_is_healthy_but_near_chance() -> None:
    registry = _registry_serving(broken="inaccurate")
    split = load_split()
    async with running_demo(registry.settings()) as client:
        health = await client.get("/health")
        answer = await client.post("/predict", json={"instances": split.x_test.tolist()})
    assert health.status_code == 200
    assert health.json()["test_accuracy"] < 0.75
    predictions = answer.json()["predictions"]
    correct = sum(int(p == y) for p, y in zip(predictions, split.y_test, strict=True))
    assert correct / len(predictions) < 0.75


async def test_unknown_algorithm_fails_to_load_with_the_reason() -> None:
    registry = _registry_serving(algorithm="xgboost")
    async with running_demo(registry.settings()) as client:
        health = await client.get("/health")
    assert health.status_code == 503
    assert "unknown algorithm 'xgboost'" in health.json()["reason"]


async def test_fixing_the_metadata_heals_the_version() -> None:
    registry = _registry_serving(broken="crash")
    async with running_demo(registry.settings()) as client:
        assert (await client.get("/health")).status_code == 503
        registry.add_version("v3")
        await registry.wait_for_polls()
        assert (await client.get("/health")).status_code == 200
