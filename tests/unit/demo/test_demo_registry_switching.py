"""The demo service serves the version the registry alias points to and follows it as it moves."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import pytest

from firewatch.demo.settings import DemoSettings
from support.demo_registry import FakeRegistry, running_demo, wait_for_version

ROW = [14.0, 20.0, 90.0, 600.0, 0.1, 0.1, 0.1, 0.05, 0.2, 0.06] * 3


def _registry(token: str | None = None) -> FakeRegistry:
    registry = FakeRegistry(token=token)
    registry.add_version("v1", algorithm="logistic_regression")
    registry.add_version("v2", algorithm="random_forest")
    registry.set_alias("production", "v1")
    registry.set_alias("fallback", "v2")
    return registry


async def test_serves_the_production_version() -> None:
    registry = _registry()
    async with running_demo(registry.settings()) as client:
        health = await client.get("/health")
        answer = await client.post("/predict", json={"instances": [ROW]})
    assert health.status_code == 200
    body = health.json()
    assert (body["status"], body["model"], body["version"]) == ("ok", "breast-cancer", "v1")
    assert body["algorithm"] == "logistic_regression"
    assert body["test_accuracy"] > 0.9
    prediction = answer.json()
    assert prediction["predictions"] in ([0], [1])
    assert (prediction["model"], prediction["version"]) == ("breast-cancer", "v1")


async def test_switches_when_the_alias_moves_and_back() -> None:
    registry = _registry()
    async with running_demo(registry.settings()) as client:
        registry.set_alias("production", "v2")
        await wait_for_version(client, "v2")
        assert (await client.get("/health")).json()["algorithm"] == "random_forest"
        answer = await client.post("/predict", json={"instances": [ROW]})
        assert answer.json()["version"] == "v2"
        registry.set_alias("production", "v1")
        await wait_for_version(client, "v1", timeout=0.5)


async def test_serves_another_alias_when_configured() -> None:
    registry = _registry()
    async with running_demo(registry.settings(alias="fallback")) as client:
        assert (await client.get("/health")).json()["version"] == "v2"


async def test_in_flight_request_finishes_on_the_version_it_started_with() -> None:
    registry = _registry()
    registry.add_version("v1", broken="slow", broken_latency_ms=300)
    async with running_demo(registry.settings()) as client:
        in_flight = asyncio.create_task(client.post("/predict", json={"instances": [ROW]}))
        await asyncio.sleep(0.05)
        registry.set_alias("production", "v2")
        await wait_for_version(client, "v2")
        answer = await in_flight
    assert answer.status_code == 200
    assert answer.json()["version"] == "v1"


async def test_sends_the_token_as_a_bearer_header() -> None:
    registry = _registry(token="s3cret")
    async with running_demo(registry.settings()) as client:
        assert (await client.get("/health")).status_code == 200
    assert registry.requests[0].headers["Authorization"] == "Bearer s3cret"


async def test_sends_no_authorization_header_without_a_token() -> None:
    registry = _registry()
    async with running_demo(registry.settings()) as client:
        await client.get("/health")
    assert "Authorization" not in registry.requests[0].headers


async def test_wrong_token_is_reported_before_any_version_is_known() -> None:
    registry = _registry(token="s3cret")
    async with running_demo(registry.settings(token="wrong")) as client:
        health = await client.get("/health")
        answer = await client.post("/predict", json={"instances": [ROW]})
    assert health.status_code == 503
    assert "no version of 'breast-cancer' loaded yet" in health.json()["reason"]
    assert "refused the token" in health.json()["reason"]
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "model_not_loaded"


async def test_unreachable_registry_keeps_the_current_version_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = _registry()
    async with running_demo(registry.settings()) as client:
        caplog.set_level(logging.INFO, logger="firewatch.demo.poller")
        registry.down = True
        await registry.wait_for_polls(5)
        health = await client.get("/health")
        registry.down = False
        registry.set_alias("production", "v2")
        await wait_for_version(client, "v2")
    assert health.status_code == 200
    assert health.json()["version"] == "v1"
    assert "registry unreachable" in health.json()["registry_problem"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "still serving version v1" in warnings[0].getMessage()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("remove_alias", "has no alias 'production'"),
        ("rename_model", "model 'breast-cancer' is not in the registry"),
        ("dangling_alias", "points to unknown version 'v7'"),
    ],
)
async def test_missing_model_or_alias_keeps_the_current_version(change: str, problem: str) -> None:
    registry = _registry()
    async with running_demo(registry.settings()) as client:
        if change == "remove_alias":
            del registry.aliases["production"]
        elif change == "rename_model":
            registry.model_name = "renamed"
        else:
            registry.set_alias("production", "v7")
        await registry.wait_for_polls()
        health = (await client.get("/health")).json()
    assert (health["status"], health["version"]) == ("ok", "v1")
    assert problem in health["registry_problem"]


async def test_starts_unavailable_while_the_registry_is_down_then_serves() -> None:
    registry = _registry()
    registry.down = True
    async with running_demo(registry.settings()) as client:
        health = await client.get("/health")
        registry.down = False
        await wait_for_version(client, "v1")
    assert health.status_code == 503
    assert health.json()["version"] is None
    assert "no version of 'breast-cancer' loaded yet" in health.json()["reason"]
    assert "registry unreachable" in health.json()["reason"]


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"model_name": " "}, "model_name cannot be empty"),
        ({"registry_url": "registry:8000"}, "registry_url must start with http"),
        ({"alias": ""}, "alias cannot be empty"),
        ({"poll_interval": 0}, "poll_interval must be positive"),
        ({"registry_timeout": -1}, "registry_timeout must be positive"),
    ],
)
def test_settings_refuse_nonsense(overrides: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        dataclasses.replace(DemoSettings("m", "http://r"), **overrides)
