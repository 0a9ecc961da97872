"""``validate_test_set``: the real demo model scored on its held-out reference file, and the
Open Inference Protocol and MLflow request shapes against real local servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from step_harness import make_context

from firewatch.demo.reference import write_reference
from firewatch.runbooks.schema import Outcome
from firewatch.runbooks.steps import STEPS
from firewatch.runbooks.steps.validation import validate_test_set
from support.demo_registry import FakeRegistry, running_demo, wait_for_version
from support.servers import free_port, serve_in_thread

DEMO_URL = "http://demo-model"  # the in-process demo app answers any host


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The file ``firewatch demo up`` writes to .firewatch/demo-reference.csv."""
    return write_reference(tmp_path_factory.mktemp("demo") / "demo-reference.csv")


def _demo_config(reference: Path, **validation: Any) -> dict[str, Any]:
    model = {
        "name": "breast-cancer",
        "url": DEMO_URL,
        "baseline_accuracy": 0.96,
        "validation": {"test_set": str(reference), **validation},
    }
    return {"models": [model]}


@pytest.fixture
async def demo() -> AsyncIterator[tuple[FakeRegistry, httpx.AsyncClient]]:
    registry = FakeRegistry()
    registry.add_version("v2", algorithm="random_forest")
    registry.add_version("v3", algorithm="random_forest", broken="inaccurate")
    registry.set_alias("production", "v2")
    async with running_demo(registry.settings()) as client:
        yield registry, client


def test_the_step_is_registered() -> None:
    assert STEPS["validate_test_set"] is validate_test_set


async def test_the_demo_production_version_is_healthy_on_its_reference(
    tmp_path: Path, reference: Path, demo: tuple[FakeRegistry, httpx.AsyncClient]
) -> None:
    _, client = demo
    ctx = make_context(tmp_path, client, config=_demo_config(reference), model="breast-cancer")
    healthy = await validate_test_set(ctx, {"expect": "healthy"})
    assert healthy.outcome is Outcome.PASSED, healthy.summary
    assert healthy.output["rows"] == 143 and healthy.output["errors"] == 0
    assert healthy.output["accuracy"] >= 0.91
    assert healthy.output["baseline"] == 0.96
    assert healthy.output["version"] == "v2"
    assert healthy.summary.startswith("healthy: accuracy ")

    degraded = await validate_test_set(ctx, {"expect": "degraded"})
    assert degraded.outcome is Outcome.FAILED
    assert degraded.summary.startswith("not confirmed: accuracy")


async def test_an_inaccurate_version_is_confirmed_degraded(
    tmp_path: Path, reference: Path, demo: tuple[FakeRegistry, httpx.AsyncClient]
) -> None:
    registry, client = demo
    registry.set_alias("production", "v3")
    await wait_for_version(client, "v3")
    config = _demo_config(reference, batch_size=50)
    ctx = make_context(tmp_path, client, config=config, model="breast-cancer")
    result = await validate_test_set(ctx, {"expect": "degraded"})
    assert result.outcome is Outcome.PASSED, result.summary
    assert result.output["accuracy"] < 0.91
    assert result.summary.startswith("confirmed degraded: accuracy")
    assert "(v3)" in result.summary

    still = await validate_test_set(
        ctx, {"expect": "healthy", "deadline": "1s", "interval": "200ms"}
    )
    assert still.outcome is Outcome.FAILED
    assert still.summary.startswith("still degraded:")


async def test_a_service_that_does_not_answer_fails_clearly(
    tmp_path: Path, reference: Path
) -> None:
    async with httpx.AsyncClient() as client:
        down = f"http://127.0.0.1:{free_port()}"
        config = _demo_config(reference)
        config["models"][0]["url"] = down
        ctx = make_context(tmp_path, client, config=config, model="breast-cancer")
        result = await validate_test_set(ctx, {"expect": "healthy", "deadline": "0s"})
    assert result.outcome is Outcome.FAILED
    assert result.summary.startswith("no predictions for any of 143 test rows")
    assert f"POST {down}/predict failed" in result.summary
    assert result.output["errors"] == 143


# --- other protocols ------------------------------------------------------------------------------


def _toy_set(path: Path) -> Path:
    """label = 1 when a > b; a prediction column that must not be sent as a feature."""
    rows = ["a,b,prediction,label"]
    rows += [f"{i},{9 - i},0,{int(i > 9 - i)}" for i in range(10)]
    path.write_text("\n".join(rows) + "\n")
    return path


def _servers() -> Starlette:
    async def infer(request: Request) -> JSONResponse:
        tensor = (await request.json())["inputs"][0]
        rows, width = tensor["shape"]
        assert (tensor["name"], width) == ("input-0", 2)
        data = tensor["data"]
        scores: list[float] = []
        for i in range(rows):
            a, b = data[2 * i], data[2 * i + 1]
            scores += [0.2, 0.8] if a > b else [0.9, 0.1]
        output = {"name": "probabilities", "shape": [rows, 2], "datatype": "FP64", "data": scores}
        return JSONResponse({"model_name": "toy", "model_version": "3", "outputs": [output]})

    async def invocations(request: Request) -> JSONResponse:
        frame = (await request.json())["dataframe_split"]
        assert frame["columns"] == ["a", "b"]
        return JSONResponse({"predictions": ["1" for _ in frame["data"]]})  # always "1", as text

    return Starlette(
        routes=[
            Route("/v2/models/toy/infer", infer, methods=["POST"]),
            Route("/invocations", invocations, methods=["POST"]),
        ]
    )


@pytest.fixture(scope="module")
def toy_url() -> Iterator[str]:
    with serve_in_thread(_servers()) as url:
        yield url


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def _toy_config(url: str, test_set: Path, protocol: str) -> dict[str, Any]:
    validation = {"test_set": str(test_set), "protocol": protocol, "batch_size": 3}
    return {"models": [{"name": "toy", "url": url, "validation": validation}]}


async def test_open_inference_protocol_scores_argmax_of_the_output_tensor(
    tmp_path: Path, client: httpx.AsyncClient, toy_url: str
) -> None:
    config = _toy_config(toy_url, _toy_set(tmp_path / "toy.csv"), "oip-v2")
    ctx = make_context(tmp_path, client, config=config, model="toy")
    result = await validate_test_set(ctx, {"expect": "healthy", "baseline_accuracy": 0.9})
    assert result.outcome is Outcome.PASSED, result.summary
    assert (result.output["accuracy"], result.output["rows"]) == (1.0, 10)
    assert result.output["version"] == "3"
    assert result.output["predict_url"] == f"{toy_url}/v2/models/toy/infer"


async def test_mlflow_labels_compare_as_text_and_params_override_the_config(
    tmp_path: Path, client: httpx.AsyncClient, toy_url: str
) -> None:
    config = _toy_config(toy_url, _toy_set(tmp_path / "toy.csv"), "mlflow")
    ctx = make_context(tmp_path, client, config=config, model="toy")
    # Always predicting "1" gets half of the rows (labels 0/1 read as numbers) right.
    result = await validate_test_set(
        ctx, {"expect": "degraded", "baseline_accuracy": 0.9, "tolerance": 0.1}
    )
    assert result.outcome is Outcome.PASSED, result.summary
    assert result.output["accuracy"] == 0.5
    assert result.output["threshold"] == 0.8
    assert "accuracy 50.0% on 10 held-out rows, baseline 90.0% − 10% tolerance" in result.summary


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({}, "parameter 'expect' must be degraded or healthy"),
        ({"expect": "healthy", "tset": "x.csv"}, "unknown parameter(s) tset"),
        ({"expect": "healthy", "tolerance": 2}, "tolerance"),
        ({"expect": "healthy", "test_set": "missing.csv"}, "cannot read the test set"),
        ({"expect": "healthy", "label_column": "truth"}, "no label column 'truth'"),
    ],
)
async def test_bad_parameters_and_files_are_named(
    tmp_path: Path,
    client: httpx.AsyncClient,
    toy_url: str,
    params: dict[str, Any],
    problem: str,
) -> None:
    config = _toy_config(toy_url, _toy_set(tmp_path / "toy.csv"), "oip-v2")
    config["models"][0]["baseline_accuracy"] = 0.9
    result = await validate_test_set(
        make_context(tmp_path, client, config=config, model="toy"), params
    )
    assert result.outcome is Outcome.FAILED
    assert problem in result.summary


async def test_needs_a_test_set_and_a_baseline(
    tmp_path: Path, client: httpx.AsyncClient, toy_url: str
) -> None:
    bare = {"models": [{"name": "toy", "url": toy_url}]}
    ctx = make_context(tmp_path, client, config=bare, model="toy")
    no_set = await validate_test_set(ctx, {"expect": "healthy"})
    assert no_set.outcome is Outcome.SKIPPED, "no test set: nothing to validate on, not a failure"
    assert "model toy has no held-out test set" in no_set.summary
    test_set = str(_toy_set(tmp_path / "toy.csv"))
    no_baseline = await validate_test_set(ctx, {"expect": "healthy", "test_set": test_set})
    assert no_baseline.outcome is Outcome.FAILED
    assert "no baseline accuracy" in no_baseline.summary


async def test_text_features_are_refused_for_numeric_protocols(
    tmp_path: Path, client: httpx.AsyncClient, toy_url: str
) -> None:
    path = tmp_path / "text.csv"
    path.write_text("a,colour,label\n1,red,1\n2,blue,0\n")
    config = _toy_config(toy_url, path, "firewatch")
    ctx = make_context(tmp_path, client, config=config, model="toy")
    result = await validate_test_set(ctx, {"expect": "healthy", "baseline_accuracy": 0.9})
    assert result.outcome is Outcome.FAILED
    assert "feature 'colour' is not numeric" in result.summary
