"""Bad /predict input gets a 4xx JSON error naming the problem, never a 500."""

from __future__ import annotations

import pytest

from firewatch.demo.models import load_split
from support.demo_registry import FakeRegistry, running_demo

ROW = [14.0, 20.0, 90.0, 600.0, 0.1, 0.1, 0.1, 0.05, 0.2, 0.06] * 3


def _settings_registry() -> FakeRegistry:
    registry = FakeRegistry()
    registry.add_version("v1")
    registry.set_alias("production", "v1")
    return registry


async def test_a_batch_gets_one_prediction_per_instance() -> None:
    rows = load_split().x_test[:7].tolist()
    async with running_demo(_settings_registry().settings()) as client:
        answer = await client.post("/predict", json={"instances": rows})
    assert answer.status_code == 200
    predictions = answer.json()["predictions"]
    assert len(predictions) == 7
    assert set(predictions) <= {0, 1}


@pytest.mark.parametrize(
    ("content", "status", "code", "names"),
    [
        (b"{not json", 400, "malformed_json", "not valid JSON"),
        (b"", 400, "malformed_json", "not valid JSON"),
        (b'{"instances": []}', 422, "invalid_request", "instances: List should have at least 1"),
        (b'{"rows": [[1]]}', 422, "invalid_request", "instances: Field required"),
        (b'{"instances": [[1, 2, 3]]}', 422, "invalid_request", "expected 30 features"),
        (b'{"instances": [1, 2]}', 422, "invalid_request", "instances[0]: Input should be a valid"),
        (b'{"instances": "all"}', 422, "invalid_request", "instances: Input should be a valid"),
        (b"[[1, 2]]", 422, "invalid_request", "Input should be an object"),
        (b"null", 422, "invalid_request", "Input should be an object"),
    ],
)
async def test_malformed_requests_get_4xx_naming_the_problem(
    content: bytes, status: int, code: str, names: str
) -> None:
    async with running_demo(_settings_registry().settings()) as client:
        answer = await client.post(
            "/predict", content=content, headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == status
    error = answer.json()["error"]
    assert error["code"] == code
    assert names in error["message"]


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ('"12.5"', "instances[1][4]: Input should be a valid number"),
        ("true", "instances[1][4]: Input should be a valid number"),
        ("null", "instances[1][4]: Input should be a valid number"),
        ("NaN", "instances[1][4]: Input should be a finite number"),
        ("Infinity", "instances[1][4]: Input should be a finite number"),
        ("1e999", "instances[1][4]: Input should be a finite number"),
    ],
)
async def test_non_numbers_are_rejected_with_their_position(value: str, names: str) -> None:
    row = ", ".join(["1.0"] * 4 + [value] + ["1.0"] * 25)
    good = ", ".join(["1.0"] * 30)
    content = f'{{"instances": [[{good}], [{row}]]}}'.encode()
    async with running_demo(_settings_registry().settings()) as client:
        answer = await client.post("/predict", content=content)
    assert answer.status_code == 422
    assert answer.json()["error"]["message"] == names


async def test_too_many_instances_are_refused() -> None:
    async with running_demo(_settings_registry().settings()) as client:
        answer = await client.post("/predict", json={"instances": [ROW] * 1001})
    assert answer.status_code == 422
    assert "at most 1000" in answer.json()["error"]["message"]


async def test_unknown_routes_and_methods_use_the_error_shape() -> None:
    async with running_demo(_settings_registry().settings()) as client:
        missing = await client.get("/nowhere")
        wrong_method = await client.get("/predict")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
