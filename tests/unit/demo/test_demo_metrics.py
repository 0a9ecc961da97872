"""/metrics exposes the exact metric names Firewatch queries, and counts requests and errors."""

from __future__ import annotations

import re

import httpx

from support.demo_registry import FakeRegistry, running_demo, wait_for_version

ROW = [14.0, 20.0, 90.0, 600.0, 0.1, 0.1, 0.1, 0.05, 0.2, 0.06] * 3
SERIES = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?P<labels>\{[^}]*\})? (?P<value>\S+)$")


def _registry() -> FakeRegistry:
    registry = FakeRegistry()
    registry.add_version("v1")
    registry.add_version("v2", broken="errors", broken_rate=1.0)
    registry.set_alias("production", "v1")
    return registry


async def _scrape(client: httpx.AsyncClient) -> dict[str, float]:
    """Every sample as ``name{labels}`` → value."""
    answer = await client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples: dict[str, float] = {}
    for line in answer.text.splitlines():
        match = SERIES.match(line)
        if match and not line.startswith("#"):
            samples[match["name"] + (match["labels"] or "")] = float(match["value"])
    return samples


def _key(name: str, version: str) -> str:
    return f'{name}{{model="breast-cancer",version="{version}"}}'


async def test_exposes_the_exact_metric_names() -> None:
    async with running_demo(_registry().settings()) as client:
        await client.post("/predict", json={"instances": [ROW]})
        text = (await client.get("/metrics")).text
    for name, kind in [
        ("model_requests_total", "counter"),
        ("model_request_errors_total", "counter"),
        ("model_request_duration_seconds", "histogram"),
        ("model_info", "gauge"),
    ]:
        assert f"# TYPE {name} {kind}" in text
        assert f'{name}{"_count" if kind == "histogram" else ""}{{model="breast-cancer"' in text
    assert "_total_total" not in text
    assert "_created" not in text
    assert "process_cpu_seconds_total" in text


async def test_counts_every_request_and_only_5xx_as_errors() -> None:
    async with running_demo(_registry().settings()) as client:
        for _ in range(3):
            await client.post("/predict", json={"instances": [ROW]})
        await client.post("/predict", json={"instances": []})
        await client.post("/admin/faults", json={"error_rate": 1.0})
        await client.post("/predict", json={"instances": [ROW]})
        await client.post("/admin/faults", json={"outage": True})
        await client.post("/predict", json={"instances": [ROW]})
        await client.get("/health")
        samples = await _scrape(client)
    assert samples[_key("model_requests_total", "v1")] == 6
    assert samples[_key("model_request_errors_total", "v1")] == 2
    assert samples[_key("model_request_duration_seconds_count", "v1")] == 6
    assert samples[_key("model_info", "v1")] == 1


async def test_model_info_and_counters_follow_the_served_version() -> None:
    registry = _registry()
    async with running_demo(registry.settings()) as client:
        await client.post("/predict", json={"instances": [ROW]})
        registry.set_alias("production", "v2")
        await wait_for_version(client, "v2")
        await client.post("/predict", json={"instances": [ROW]})
        await client.post("/predict", json={"instances": [ROW]})
        samples = await _scrape(client)
    assert samples[_key("model_info", "v2")] == 1
    assert _key("model_info", "v1") not in samples
    assert samples[_key("model_requests_total", "v1")] == 1
    assert samples[_key("model_request_errors_total", "v1")] == 0
    assert samples[_key("model_requests_total", "v2")] == 2
    assert samples[_key("model_request_errors_total", "v2")] == 2


async def test_new_version_series_exist_before_its_first_request() -> None:
    async with running_demo(_registry().settings()) as client:
        samples = await _scrape(client)
    assert samples[_key("model_requests_total", "v1")] == 0
    assert samples[_key("model_request_errors_total", "v1")] == 0


async def test_each_app_has_its_own_metrics() -> None:
    async with running_demo(_registry().settings()) as first:
        await first.post("/predict", json={"instances": [ROW]})
        async with running_demo(_registry().settings()) as second:
            samples = await _scrape(second)
    assert samples[_key("model_requests_total", "v1")] == 0
