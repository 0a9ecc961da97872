"""Answering ``POST /predict``: input validation, injected faults, the prediction, metrics, and
the inference events reported to Firewatch."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from firewatch.demo.errors import error_response, validation_error_response
from firewatch.demo.faults import FaultSettings
from firewatch.demo.ingest import BatchPoster
from firewatch.demo.metrics import NO_VERSION, DemoMetrics
from firewatch.demo.models import N_FEATURES, feature_names, size_features
from firewatch.demo.state import ActiveVersion, ServingState, unavailability
from firewatch.demo.versions import BrokenMode

logger = logging.getLogger(__name__)

MAX_INSTANCES = 1000
REQUEST_ID_HEADER = "x-request-id"
_MAX_REQUEST_ID = 200


def _check_feature_count(row: list[float]) -> list[float]:
    if len(row) != N_FEATURES:
        raise PydanticCustomError(
            "wrong_feature_count",
            "expected {expected} features (breast_cancer), got {count}",
            {"expected": N_FEATURES, "count": len(row)},
        )
    return row


FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Instance = Annotated[list[FiniteFloat], AfterValidator(_check_feature_count)]


class PredictRequest(BaseModel):
    """Body of ``POST /predict``: one or more rows of 30 finite numbers."""

    model_config = ConfigDict(extra="forbid", strict=True)

    instances: Annotated[list[Instance], Field(min_length=1, max_length=MAX_INSTANCES)]


def preprocess(instances: list[list[float]], faults: FaultSettings) -> list[list[float]]:
    """The service's feature pipeline: the rows as given, unless the ``input_shift`` fault makes
    it multiply the size features (radius, perimeter, area) by that factor — a unit change
    upstream that nothing rejects, since the values stay plausible numbers."""
    factor = faults.input_shift
    if factor == 1.0:
        return instances
    shifted = [list(row) for row in instances]
    for row in shifted:
        for column in size_features():
            row[column] *= factor
    return shifted


def instance_ids(request_id: str, count: int) -> list[str]:
    """One id per instance: the request's id, suffixed ``/0``, ``/1``… when there are several."""
    if count == 1:
        return [request_id]
    return [f"{request_id}/{i}" for i in range(count)]


def _request_id(request: Request) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "").strip()
    return given[:_MAX_REQUEST_ID] if given else uuid.uuid4().hex


@dataclass(frozen=True)
class _Served:
    """What a successful request predicted: per instance, its id, row, class and score."""

    ids: list[str]
    rows: list[list[float]]
    predictions: list[int]
    scores: list[float]


class Predictor:
    """Answers prediction requests with the version the serving state holds at request start
    (with a traffic split, one drawn by weight from the seeded random generator).

    With a ``reporter``, each answer becomes inference events for Firewatch: one per instance
    predicted (the features the model was given, its class, the probability of malignant, the
    latency and version), or one error event per request answered 5xx. Requests refused as
    invalid (4xx) are the caller's problem and are not reported.
    """

    def __init__(
        self,
        state: ServingState,
        metrics: DemoMetrics,
        rng: random.Random,
        reporter: BatchPoster | None = None,
    ) -> None:
        self._state = state
        self._metrics = metrics
        self._rng = rng
        self.reporter = reporter

    async def handle(self, request: Request) -> JSONResponse:
        """Answer one request and record it in the metrics, whatever the outcome."""
        # One read: a concurrent switch does not affect this request. With a traffic split the
        # version is drawn by weight, and it is the one named in the answer, metrics and events.
        active = self._state.version_for_request(self._rng)
        faults = self._state.faults
        request_id = _request_id(request)
        started = time.perf_counter()
        served: _Served | None = None
        try:
            response, served = await self._answer(request, active, faults, request_id)
        except Exception:
            logger.exception("unexpected error answering /predict")
            response = error_response(500, "internal_error", "unexpected error while predicting")
        version = active.version if active else NO_VERSION
        elapsed = time.perf_counter() - started
        self._metrics.observe_request(
            self._state.model_name, version, response.status_code, elapsed
        )
        if self.reporter is not None:
            self._report(self.reporter, request_id, active, elapsed, response, served)
        response.headers[REQUEST_ID_HEADER] = request_id
        return response

    async def _answer(
        self,
        request: Request,
        active: ActiveVersion | None,
        faults: FaultSettings,
        request_id: str,
    ) -> tuple[JSONResponse, _Served | None]:
        problem = unavailability(
            self._state.model_name, active, faults, self._state.registry_problem
        )
        if problem is not None:
            details = {"version": active.version if active else None}
            return error_response(503, problem[0], problem[1], details), None
        assert active is not None
        assert active.model is not None
        try:
            body = PredictRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            return validation_error_response(exc.errors(include_input=False)), None
        await _add_latency(active, faults)
        failure = self._injected_failure(active, faults)
        if failure is not None:
            return failure, None
        rows = preprocess(body.instances, faults)
        predictions, scores = await asyncio.to_thread(active.model.predict_with_scores, rows)
        ids = instance_ids(request_id, len(rows))
        payload: dict[str, Any] = {
            "predictions": predictions,
            "request_ids": ids,
            "model": active.model_name,
            "version": active.version,
        }
        return JSONResponse(payload), _Served(ids, rows, predictions, scores)

    @staticmethod
    def _report(
        reporter: BatchPoster,
        request_id: str,
        active: ActiveVersion | None,
        elapsed: float,
        response: JSONResponse,
        served: _Served | None,
    ) -> None:
        common: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(),
            "latency_ms": round(elapsed * 1000, 3),
        }
        if active is not None:
            common["model_version"] = active.version
        if served is not None:
            names = feature_names()
            for rid, row, prediction, score in zip(
                served.ids, served.rows, served.predictions, served.scores, strict=True
            ):
                reporter.add(
                    {
                        "request_id": rid,
                        **common,
                        "prediction": prediction,
                        "score": score,
                        "features": dict(zip(names, row, strict=True)),
                    }
                )
        elif response.status_code >= 500:
            error_type = _error_code(response.body) or f"http_{response.status_code}"
            reporter.add(
                {"request_id": request_id, **common, "error": True, "error_type": error_type}
            )

    def _injected_failure(
        self, active: ActiveVersion, faults: FaultSettings
    ) -> JSONResponse | None:
        spec = active.spec
        if spec.broken is BrokenMode.ERRORS and self._rng.random() < spec.broken_rate:
            message = (
                f"version {spec.version} failed to predict (injected by metadata.broken=errors)"
            )
            return error_response(500, "injected_fault", message, {"source": "version_metadata"})
        if faults.error_rate > 0 and self._rng.random() < faults.error_rate:
            message = "prediction failed (injected by the admin fault error_rate)"
            return error_response(500, "injected_fault", message, {"source": "admin_faults"})
        return None


def _error_code(body: bytes | memoryview | Sequence[int]) -> str | None:
    try:
        code = json.loads(bytes(body))["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) and code else None


async def _add_latency(active: ActiveVersion, faults: FaultSettings) -> None:
    extra_ms = faults.latency_ms
    if active.spec.broken is BrokenMode.SLOW:
        extra_ms += active.spec.broken_latency_ms
    if extra_ms > 0:
        await asyncio.sleep(extra_ms / 1000)
