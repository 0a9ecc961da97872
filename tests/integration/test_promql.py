"""PrometheusClient against a real Prometheus 2.42 scraping the real demo model service."""

from __future__ import annotations

import asyncio
import math
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from firewatch.detect.promql import PrometheusClient, PromQLError, Sample
from support.prom import (
    PrometheusHandle,
    predict_body,
    running_demo_model,
    running_prometheus,
)
from support.servers import free_port

REQUESTS = 7


@pytest.fixture(scope="module")
def bare_prometheus() -> Iterator[PrometheusHandle]:
    """A real Prometheus with nothing to scrape: enough for errors and constant expressions."""
    with running_prometheus([]) as prometheus:
        yield prometheus


async def wait_for_query(
    client: PrometheusClient, promql: str, accept: object, timeout: float = 15.0
) -> list[Sample]:
    """Query until ``accept(samples)`` holds (Prometheus scrapes every second)."""
    assert callable(accept)
    deadline = time.monotonic() + timeout
    samples: list[Sample] = []
    while time.monotonic() < deadline:
        samples = await client.query(promql)
        if accept(samples):
            return samples
        await asyncio.sleep(0.25)
    pytest.fail(f"{promql!r} never gave an acceptable answer in {timeout:g}s; last: {samples}")


async def test_queries_see_the_demo_models_traffic() -> None:
    with (
        running_demo_model("iris", "v1") as model_url,
        running_prometheus([model_url]) as prometheus,
    ):
        async with httpx.AsyncClient() as http:
            client = PrometheusClient(prometheus.url, client=http)
            # The demo exposes zero-valued series at once: wait for a scrape before the traffic, so
            # that rate() has a point before and a point after it.
            await wait_for_query(client, "model_requests_total", lambda s: len(s) == 1)
            before = datetime.now(UTC)
            for _ in range(REQUESTS):
                response = await http.post(f"{model_url}/predict", json=predict_body())
                assert response.status_code == 200, response.text

            total = await wait_for_query(
                client, "sum(model_requests_total)", lambda s: s and s[0].value >= REQUESTS
            )
            assert len(total) == 1
            assert total[0].labels == {}
            assert total[0].value == REQUESTS
            assert abs(total[0].timestamp - datetime.now(UTC)) < timedelta(seconds=10)

            series = await client.query("model_requests_total")
            assert len(series) == 1
            assert series[0].labels["model"] == "iris"
            assert series[0].labels["version"] == "v1"
            assert series[0].labels["job"] == "demo"
            assert series[0].labels["__name__"] == "model_requests_total"
            assert series[0].value == REQUESTS

            rate = await wait_for_query(
                client,
                "sum by (model) (rate(model_requests_total[30s]))",
                lambda s: s and s[0].value > 0,
            )
            assert rate[0].labels == {"model": "iris"}
            assert 0 < rate[0].value <= REQUESTS

            errors = await client.query("sum(model_request_errors_total)")
            assert [s.value for s in errors] == [0.0]

            # Evaluated in the past, before Prometheus had any sample: an empty vector.
            past = before - timedelta(hours=1)
            assert await client.query("sum(model_requests_total)", at=past) == []
            later = before + timedelta(seconds=30)
            [at] = await client.query("sum(model_requests_total)", at=later)
            assert abs(at.timestamp - later) <= timedelta(milliseconds=1)


async def test_scalars_nan_and_infinities(bare_prometheus: PrometheusHandle) -> None:
    async with httpx.AsyncClient() as http:
        client = PrometheusClient(bare_prometheus.url, client=http)
        [scalar] = await client.query("1 + 2")
        assert (scalar.labels, scalar.value) == ({}, 3.0)
        [nan] = await client.query("0 / 0")
        assert math.isnan(nan.value)
        [inf] = await client.query("1 / 0")
        assert inf.value == math.inf
        [neg] = await client.query("vector(-1 / 0)")
        assert (neg.labels, neg.value) == ({}, -math.inf)
        labelled = await client.query('label_replace(vector(0/0), "model", "iris", "", "")')
        assert labelled[0].labels == {"model": "iris"}
        assert math.isnan(labelled[0].value)


async def test_matrix_and_string_results_are_refused(bare_prometheus: PrometheusHandle) -> None:
    async with httpx.AsyncClient() as http:
        client = PrometheusClient(bare_prometheus.url, client=http)
        with pytest.raises(PromQLError, match="range vector") as matrix:
            await client.query("up[1m]")
        assert matrix.value.error_type == "unsupported"
        with pytest.raises(PromQLError, match="a string") as string:
            await client.query('"hello"')
        assert string.value.error_type == "unsupported"


async def test_syntax_error_is_bad_data(bare_prometheus: PrometheusHandle) -> None:
    async with httpx.AsyncClient() as http:
        client = PrometheusClient(bare_prometheus.url, client=http)
        with pytest.raises(PromQLError, match="bad_data") as caught:
            await client.query("sum(model_requests_total")
    assert caught.value.error_type == "bad_data"
    assert caught.value.status_code == 400
    assert "parse error" in str(caught.value)
    assert "sum(model_requests_total" in str(caught.value)


async def test_execution_error_is_reported(bare_prometheus: PrometheusHandle) -> None:
    async with httpx.AsyncClient() as http:
        client = PrometheusClient(bare_prometheus.url, client=http)
        with pytest.raises(PromQLError) as caught:
            await client.query('label_replace(vector(1), "1-not-a-label", "x", "", "")')
    assert caught.value.error_type == "execution"
    assert caught.value.status_code == 422
    assert "invalid destination label name" in str(caught.value)


async def test_bearer_token_is_sent_and_bad_answers_are_errors() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.params["query"] == "up":
            return httpx.Response(
                200,
                json={
                    "status": "success",
                    "data": {
                        "resultType": "vector",
                        "result": [{"metric": {"job": "a"}, "value": [1700000000.5, "+Inf"]}],
                    },
                },
            )
        if request.url.params["query"] == "slow":
            body = {"status": "error", "errorType": "timeout", "error": "query timed out"}
            return httpx.Response(503, json=body)
        return httpx.Response(502, text="<html>Bad Gateway</html>")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = PrometheusClient("https://prom.test/prefix/", client=http, bearer_token="s3cret")
        at = datetime(2026, 1, 15, 14, 30, 0, 250000, tzinfo=UTC)
        [sample] = await client.query("up", at=at)
        assert sample == Sample({"job": "a"}, math.inf, datetime.fromtimestamp(1700000000.5, UTC))
        with pytest.raises(PromQLError, match="timeout") as slow:
            await client.query("slow")
        assert (slow.value.error_type, slow.value.status_code) == ("timeout", 503)
        with pytest.raises(PromQLError, match="without a JSON body") as proxy:
            await client.query("proxy")
        assert (proxy.value.error_type, proxy.value.status_code) == ("bad_response", 502)
        with pytest.raises(ValueError, match="timezone-aware"):
            await client.query("up", at=datetime(2026, 1, 15))
    assert seen[0].url.path == "/prefix/api/v1/query"
    assert seen[0].url.params["time"] == f"{at.timestamp():.3f}"
    assert seen[0].headers["Authorization"] == "Bearer s3cret"


async def test_unreachable_server_is_an_error() -> None:
    port = free_port()  # nothing listens there
    async with httpx.AsyncClient() as http:
        client = PrometheusClient(f"http://127.0.0.1:{port}", client=http, timeout=2)
        with pytest.raises(PromQLError, match="could not be reached") as caught:
            await client.query("up")
    assert caught.value.error_type == "unreachable"
    assert "connection refused" in str(caught.value)


async def test_server_that_never_answers_times_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel accepts connections; nobody ever answers
        port = silent.getsockname()[1]
        async with httpx.AsyncClient() as http:
            client = PrometheusClient(f"http://127.0.0.1:{port}", client=http, timeout=0.3)
            started = time.monotonic()
            with pytest.raises(PromQLError, match=r"could not be reached: no answer within 0\.3s"):
                await client.query("up")
    assert time.monotonic() - started < 5
