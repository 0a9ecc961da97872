"""Liveness, readiness and Prometheus metrics (open, unless the config protects /metrics)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from firewatch.api.deps import authenticate, runtime_of
from firewatch.auth.service import Scope
from firewatch.store import migrate

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: database reachable, schema current, writer running")
async def ready(request: Request) -> JSONResponse:
    runtime = runtime_of(request)

    def check() -> dict[str, str]:
        with runtime.db.read_session() as session:
            session.execute(text("SELECT 1"))
        current, head = migrate.current_revision(runtime.db), migrate.head_revision()
        problems = {}
        if current != head:
            problems["schema"] = f"at {current}, expected {head}: run `firewatch db upgrade`"
        if not runtime.writer.running:
            problems["writer"] = "the database writer is not running"
        return problems

    try:
        problems = await asyncio.to_thread(check)
    except Exception as exc:  # the database is down: not ready, and say why
        problems = {"database": f"unreachable: {type(exc).__name__}"}
    status = 503 if problems else 200
    return JSONResponse(
        {"status": "not ready" if problems else "ready", "problems": problems}, status
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    runtime = runtime_of(request)
    if runtime.config.server.metrics_require_token:
        await authenticate(request, Scope.READ)
    body = await asyncio.to_thread(generate_latest, runtime.metrics)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
