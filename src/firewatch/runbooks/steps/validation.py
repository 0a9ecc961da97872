"""The ``validate_test_set`` check: score the served model on a held-out test set with true labels
and compare its accuracy with the baseline (the seed's "run validation on test set, compare to
baseline accuracy")."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import ValidationError

from firewatch.config import ModelConfig, ValidationConfig, format_validation_error
from firewatch.drift.data import DataError, read_table
from firewatch.drift.sketch import category_name
from firewatch.duration import parse_duration
from firewatch.registry.regions import resolve_base_url
from firewatch.runbooks.schema import Outcome
from firewatch.runbooks.steps.base import StepContext, StepResult

EXPECTATIONS = ("degraded", "healthy")
STEP_PARAMS = frozenset({"expect", "deadline", "interval"})
"""Parameters of the step itself; the others override ``models[].validation``."""
_ERROR_EXCERPT = 300


@dataclass(frozen=True)
class HeldOutSet:
    """Rows of features (in ``features`` order) and their true labels, as text."""

    features: list[str]
    rows: list[list[Any]]
    labels: list[str]
    skipped: int
    """Rows left out because a feature or the label is missing."""


@dataclass
class Scores:
    correct: int = 0
    scored: int = 0
    errors: int = 0
    first_error: str = ""
    versions: set[str] = field(default_factory=set)

    def fail(self, rows: int, why: str) -> None:
        self.errors += rows
        self.first_error = self.first_error or why


def load_test_set(config: ValidationConfig) -> HeldOutSet:
    """Read the file and pick the features and labels; DataError naming what is wrong."""
    table = read_table(config.test_set)
    if config.label_column not in table.columns:
        raise DataError(
            f"{config.test_set}: no label column {config.label_column!r} "
            f"(columns: {', '.join(table.columns)}); set validation.label_column"
        )
    excluded = {config.label_column, *config.exclude}
    names = config.feature_columns or [n for n in table.columns if n not in excluded]
    if not names:
        raise DataError(f"{config.test_set}: no feature columns left after excluding {excluded}")
    features = table.select(names)
    columns = [features.columns[n] for n in names]
    labels = table.columns[config.label_column].values
    rows: list[list[Any]] = []
    kept: list[str] = []
    for index in range(table.rows):
        row = [_plain(column.values[index]) for column in columns]
        label = _plain(labels[index])
        if label is None or any(value is None for value in row):
            continue
        rows.append(row)
        kept.append(category_name(label).strip())
    return HeldOutSet(names, rows, kept, table.rows - len(rows))


def _plain(value: Any) -> Any:
    """A JSON-ready value: numpy scalars as Python numbers, NaN and None as None."""
    if value is None:
        return None
    item = value.item() if hasattr(value, "item") else value
    if isinstance(item, float) and item != item:
        return None
    return item


def _settings(model: ModelConfig | None, params: dict[str, Any]) -> ValidationConfig:
    """The model's validation settings with the step's overrides; ValueError naming the problem."""
    overrides = {k: v for k, v in params.items() if k not in STEP_PARAMS}
    unknown = sorted(set(overrides) - set(ValidationConfig.model_fields))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {', '.join(unknown)}; expected expect, deadline, interval "
            "and any of "
            f"{', '.join(ValidationConfig.model_fields)}"
        )
    base = model.validation.model_dump(exclude_unset=True) if model and model.validation else {}
    if not base and "test_set" not in overrides:
        name = model.name if model else "(none)"
        raise ValueError(
            f"model {name} has no validation: section and the step gives no test_set; "
            "add models[].validation.test_set (a CSV or Parquet file with true labels)"
        )
    try:
        return ValidationConfig.model_validate({**base, **overrides})
    except ValidationError as exc:
        raise ValueError("invalid parameter:\n" + format_validation_error(exc)) from None


def _predict_url(config: ValidationConfig, model: ModelConfig | None, found: str | None) -> str:
    """``validation.predict_url``, or the protocol's path on ``found`` (the active endpoint)."""
    if config.predict_url is not None:
        return str(config.predict_url)
    if model is None or found is None:
        raise ValueError("no predict_url: set models[].url or validation.predict_url")
    base = found.rstrip("/")
    paths = {
        "firewatch": "/predict",
        "oip-v2": f"/v2/models/{model.name}/infer",
        "mlflow": "/invocations",
    }
    return base + paths[config.protocol]


def _request(config: ValidationConfig, test: HeldOutSet, rows: list[list[Any]]) -> dict[str, Any]:
    if config.protocol == "mlflow":
        return {"dataframe_split": {"columns": test.features, "data": rows}}
    if config.protocol == "oip-v2":
        flat = [float(v) for row in rows for v in row]
        shape = [len(rows), len(test.features)]
        tensor = {"name": config.oip_input_name, "shape": shape, "datatype": "FP64", "data": flat}
        return {"inputs": [tensor]}
    return {"instances": [[float(v) for v in row] for row in rows]}


def _predictions(config: ValidationConfig, body: Any) -> tuple[list[Any], str | None]:
    """The predicted classes and the served version the answer names; ValueError if unreadable."""
    if config.protocol == "oip-v2":
        outputs = body.get("outputs") if isinstance(body, dict) else None
        if not isinstance(outputs, list) or not outputs or not isinstance(outputs[0], dict):
            raise ValueError("no outputs in the Open Inference Protocol answer")
        data, shape = outputs[0].get("data"), outputs[0].get("shape") or []
        if not isinstance(data, list):
            raise ValueError("the first output has no data list")
        if len(shape) == 2 and shape[1] > 1:  # per-class scores: the class is the argmax
            width = int(shape[1])
            data = [_argmax(data[i : i + width]) for i in range(0, len(data), width)]
        version = body.get("model_version")
        return data, str(version) if version is not None else None
    found = body.get("predictions") if isinstance(body, dict) else body
    if not isinstance(found, list):
        raise ValueError("the answer has no predictions list")
    version = body.get("version") if isinstance(body, dict) else None
    return [_one(p) for p in found], str(version) if version is not None else None


def _argmax(scores: list[Any]) -> int:
    return max(range(len(scores)), key=lambda i: float(scores[i]))


def _one(prediction: Any) -> Any:
    """One row's class from ``1``, ``[0.1, 0.9]`` (scores), ``[1]`` or ``{"label": 1}``."""
    if isinstance(prediction, list):
        return prediction[0] if len(prediction) == 1 else _argmax(prediction)
    if isinstance(prediction, dict) and prediction:
        return next(iter(prediction.values()))
    return prediction


async def _score_batch(
    ctx: StepContext,
    config: ValidationConfig,
    url: str,
    test: HeldOutSet,
    start: int,
    scores: Scores,
) -> None:
    rows = test.rows[start : start + config.batch_size]
    labels = test.labels[start : start + config.batch_size]
    try:
        response = await ctx.client.post(
            url, json=_request(config, test, rows), timeout=config.timeout.total_seconds()
        )
    except httpx.HTTPError as exc:
        scores.fail(len(rows), f"POST {url} failed: {type(exc).__name__}: {exc}")
        return
    if not response.is_success:
        excerpt = response.text[:_ERROR_EXCERPT]
        scores.fail(len(rows), f"POST {url} answered HTTP {response.status_code}: {excerpt}")
        return
    try:
        predicted, version = _predictions(config, response.json())
    except ValueError as exc:
        scores.fail(len(rows), f"POST {url}: unreadable answer: {exc}")
        return
    if len(predicted) != len(rows):
        scores.fail(len(rows), f"POST {url}: {len(predicted)} predictions for {len(rows)} rows")
        return
    if version is not None:
        scores.versions.add(version)
    scores.scored += len(rows)
    scores.correct += sum(
        category_name(p).strip() == label for p, label in zip(predicted, labels, strict=True)
    )


async def validate_test_set(ctx: StepContext, params: dict[str, Any]) -> StepResult:
    """Scores the served model on a held-out test set with true labels and compares its accuracy
    with the baseline.

    ``expect: degraded`` confirms an accuracy alert (passes when accuracy < baseline − tolerance);
    ``expect: healthy`` verifies a rollback (passes when accuracy ≥ baseline − tolerance and every
    row was answered; scored again every ``interval``, default 2s, until then or ``deadline``,
    default runbooks.verify_timeout). Settings come from ``models[].validation``; any of them (``test_set``,
    ``baseline_accuracy``, ``tolerance``, ``predict_url``, ``protocol``…) may be given as a
    parameter to override it.
    """
    expect = params.get("expect")
    if expect not in EXPECTATIONS:
        return StepResult(
            Outcome.FAILED, f"parameter 'expect' must be degraded or healthy, got {expect!r}"
        )
    if (ctx.model is None or ctx.model.validation is None) and "test_set" not in params:
        name = ctx.model.name if ctx.model else "(none)"
        return StepResult(
            Outcome.SKIPPED,
            f"model {name} has no held-out test set to validate on "
            "(models[].validation.test_set: a CSV or Parquet file with true labels)",
        )
    try:
        config = _settings(ctx.model, params)
        url = _predict_url(config, ctx.model, await resolve_base_url(ctx.db, ctx.model))
    except ValueError as exc:
        return StepResult(Outcome.FAILED, str(exc))
    baseline = config.baseline_accuracy or (ctx.model.baseline_accuracy if ctx.model else None)
    if baseline is None:
        return StepResult(
            Outcome.FAILED,
            "no baseline accuracy to compare with: set models[].baseline_accuracy "
            "(or validation.baseline_accuracy)",
        )
    try:
        test = await asyncio.to_thread(load_test_set, config)
    except DataError as exc:
        return StepResult(Outcome.FAILED, f"cannot read the test set: {exc}")
    if not test.rows:
        return StepResult(Outcome.FAILED, f"{config.test_set}: no complete rows to validate on")
    if config.protocol != "mlflow" and (problem := _non_numeric(config, test)):
        return StepResult(Outcome.FAILED, problem)
    # Verifying a rollback: the service may still serve the old version for a moment (it
    # reloads, or polls its registry), so score again until healthy or the deadline.
    deadline = parse_duration(params.get("deadline", ctx.settings.verify_timeout))
    interval = parse_duration(params.get("interval", "2s")).total_seconds()
    loop = asyncio.get_running_loop()
    started = loop.time()
    while True:
        scores = Scores()
        for start in range(0, len(test.rows), config.batch_size):
            await _score_batch(ctx, config, url, test, start, scores)
        result = _judge(expect, config, url, test, scores, baseline)
        waited = loop.time() - started
        if (
            expect == "degraded"
            or ctx.dry_run
            or result.outcome is Outcome.PASSED
            or waited + interval > deadline.total_seconds()
        ):
            return result
        await asyncio.sleep(interval)


def _non_numeric(config: ValidationConfig, test: HeldOutSet) -> str | None:
    for index, name in enumerate(test.features):
        if any(isinstance(row[index], str | bool) for row in test.rows):
            return (
                f"{config.test_set}: feature {name!r} is not numeric; the {config.protocol} "
                "protocol sends numbers only (list it in validation.exclude?)"
            )
    return None


def _judge(
    expect: str,
    config: ValidationConfig,
    url: str,
    test: HeldOutSet,
    scores: Scores,
    baseline: float,
) -> StepResult:
    threshold = baseline - config.tolerance
    output: dict[str, Any] = {
        "test_set": str(config.test_set),
        "predict_url": url,
        "rows": scores.scored,
        "errors": scores.errors,
        "skipped": test.skipped,
        "baseline": baseline,
        "tolerance": config.tolerance,
        "threshold": round(threshold, 6),
        "accuracy": None,
        "version": ", ".join(sorted(scores.versions)) or None,
    }
    if scores.scored == 0:
        return StepResult(
            Outcome.FAILED,
            f"no predictions for any of {len(test.rows)} test rows ({scores.first_error}); "
            "is the model service up?",
            output,
        )
    accuracy = scores.correct / scores.scored
    output["accuracy"] = round(accuracy, 6)
    served = f" ({output['version']})" if output["version"] else ""
    measured = (
        f"accuracy {accuracy:.1%} on {scores.scored} held-out rows{served}, "
        f"baseline {baseline:.1%} − {config.tolerance:.0%} tolerance"
    )
    failed = (
        f"; {scores.errors} rows got no prediction: {scores.first_error}" if scores.errors else ""
    )
    if expect == "degraded":
        if accuracy < threshold:
            return StepResult(Outcome.PASSED, f"confirmed degraded: {measured}{failed}", output)
        return StepResult(
            Outcome.FAILED,
            f"not confirmed: {measured} — the model scores as expected on the test set "
            f"(live traffic may differ from it: check drift){failed}",
            output,
        )
    if accuracy >= threshold and not scores.errors:
        return StepResult(Outcome.PASSED, f"healthy: {measured}", output)
    if accuracy >= threshold:
        return StepResult(Outcome.FAILED, f"not healthy: {measured}{failed}", output)
    return StepResult(
        Outcome.FAILED,
        f"still degraded: {measured}{failed}; the served version does not meet its baseline",
        output,
    )
