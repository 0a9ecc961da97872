"""The demo service's HTTP endpoints: /predict, /health, /metrics and the /admin/faults API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from firewatch.demo.faults import FaultSettings, FaultUpdate
from firewatch.demo.metrics import DemoMetrics
from firewatch.demo.predict import Predictor, PredictRequest
from firewatch.demo.state import ServingState, unavailability

_PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": PredictRequest.model_json_schema()}},
    }
}


def health_body(state: ServingState) -> tuple[int, dict[str, Any]]:
    """The /health status code and body: 200 when a loaded version can predict, else 503 and why."""
    active = state.active
    body: dict[str, Any] = {
        "model": state.model_name,
        "version": active.version if active else None,
        "registry_problem": state.registry_problem,
    }
    problem = unavailability(state.model_name, active, state.faults, state.registry_problem)
    if problem is not None:
        return 503, {"status": "unavailable", "reason": problem[1], "code": problem[0], **body}
    assert active is not None
    assert active.model is not None
    model = active.model
    extra = {"algorithm": model.algorithm, "test_accuracy": round(model.test_accuracy, 4)}
    return 200, {"status": "ok", **body, **extra}


def build_router(state: ServingState, metrics: DemoMetrics, predictor: Predictor) -> APIRouter:
    """All endpoints of one demo app, bound to that app's state, metrics and predictor."""
    router = APIRouter()

    @router.post("/predict", openapi_extra=_PREDICT_BODY)
    async def predict(request: Request) -> JSONResponse:
        """Predict breast_cancer classes for ``{"instances": [[30 numbers], ...]}``."""
        return await predictor.handle(request)

    @router.get("/health")
    async def health() -> JSONResponse:
        """200 when the served version can predict, 503 with the reason otherwise."""
        status, body = health_body(state)
        return JSONResponse(body, status_code=status)

    @router.get("/metrics")
    async def prometheus_metrics() -> Response:
        """Prometheus text exposition."""
        return Response(metrics.render(), media_type=metrics.content_type)

    @router.get("/admin/faults")
    async def get_faults() -> FaultSettings:
        """The faults currently injected."""
        return state.faults

    @router.post("/admin/faults")
    async def set_faults(update: FaultUpdate) -> FaultSettings:
        """Set the faults given in the body; the others keep their value."""
        state.faults = update.apply_to(state.faults)
        return state.faults

    @router.delete("/admin/faults")
    async def clear_faults() -> FaultSettings:
        """Clear every injected fault."""
        state.faults = FaultSettings()
        return state.faults

    return router
