"""JSON errors everywhere: ``{"error": {"code", "message", "details"}}``, 4xx for anything a client sent."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from firewatch.errors import FirewatchError

log = logging.getLogger(__name__)


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(body, status_code=status, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


async def _validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        problem = next(e for e in errors if e.get("type") == "json_invalid")
        reason = problem.get("ctx", {}).get("error", "")
        return error_response(400, "malformed_json", f"request body is not valid JSON: {reason}")
    problems = [{"field": _field(tuple(e["loc"])), "problem": e["msg"]} for e in errors]
    message = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
    return error_response(422, "invalid_input", message, {"errors": problems})


async def _domain(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FirewatchError)
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers() or None)


async def _http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
    code = codes.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "internal error; see the server log")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(FirewatchError, _domain)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
