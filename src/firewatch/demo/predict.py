"""Answering ``POST /predict``: input validation, injected faults, the prediction, metrics."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from firewatch.demo.errors import error_response, validation_error_response
from firewatch.demo.faults import FaultSettings
from firewatch.demo.metrics import NO_VERSION, DemoMetrics
from firewatch.demo.models import N_FEATURES
from firewatch.demo.state import ActiveVersion, ServingState, unavailability
from firewatch.demo.versions import BrokenMode

logger = logging.getLogger(__name__)

MAX_INSTANCES = 1000


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


class Predictor:
    """Answers prediction requests with the version the serving state holds at request start."""

    def __init__(self, state: ServingState, metrics: DemoMetrics, rng: random.Random) -> None:
        self._state = state
        self._metrics = metrics
        self._rng = rng

    async def handle(self, request: Request) -> JSONResponse:
        """Answer one request and record it in the metrics, whatever the outcome."""
        active = self._state.active  # one read: a concurrent switch does not affect this request
        faults = self._state.faults
        started = time.perf_counter()
        try:
            response = await self._answer(request, active, faults)
        except Exception:
            logger.exception("unexpected error answering /predict")
            response = error_response(500, "internal_error", "unexpected error while predicting")
        version = active.version if active else NO_VERSION
        elapsed = time.perf_counter() - started
        self._metrics.observe_request(
            self._state.model_name, version, response.status_code, elapsed
        )
        return response

    async def _answer(
        self, request: Request, active: ActiveVersion | None, faults: FaultSettings
    ) -> JSONResponse:
        problem = unavailability(
            self._state.model_name, active, faults, self._state.registry_problem
        )
        if problem is not None:
            details = {"version": active.version if active else None}
            return error_response(503, problem[0], problem[1], details)
        assert active is not None
        assert active.model is not None
        try:
            body = PredictRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            return validation_error_response(exc.errors(include_input=False))
        await _add_latency(active, faults)
        failure = self._injected_failure(active, faults)
        if failure is not None:
            return failure
        predictions = await asyncio.to_thread(active.model.predict, body.instances)
        payload: dict[str, Any] = {
            "predictions": predictions,
            "model": active.model_name,
            "version": active.version,
        }
        return JSONResponse(payload)

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


async def _add_latency(active: ActiveVersion, faults: FaultSettings) -> None:
    extra_ms = faults.latency_ms
    if active.spec.broken is BrokenMode.SLOW:
        extra_ms += active.spec.broken_latency_ms
    if extra_ms > 0:
        await asyncio.sleep(extra_ms / 1000)
