"""The demo service's error shape ``{"error": {"code", "message", "details"}}`` and handlers."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

logger = logging.getLogger(__name__)

_MAX_LISTED_ERRORS = 20
_STATUS_CODES = {404: "not_found", 405: "method_not_allowed", 415: "unsupported_media_type"}


def error_response(
    status: int, code: str, message: str, details: Mapping[str, object] | None = None
) -> JSONResponse:
    """A JSON error answer in the service's error shape."""
    body = {"error": {"code": code, "message": message, "details": dict(details or {})}}
    return JSONResponse(body, status_code=status)


def _location(loc: Sequence[object]) -> str:
    parts = [part for part in loc if part != "body"]
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def validation_error_response(errors: Sequence[Mapping[str, Any]]) -> JSONResponse:
    """Turn pydantic/FastAPI validation errors into a 400 (malformed JSON) or 422 (bad values)."""
    if any(error.get("type") == "json_invalid" for error in errors):
        detail = next(e for e in errors if e.get("type") == "json_invalid")
        reason = str(detail.get("ctx", {}).get("error", detail.get("msg", "")))
        return error_response(400, "malformed_json", f"request body is not valid JSON: {reason}")
    listed = [
        {
            "field": _location(e.get("loc", ())),
            "problem": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in errors[:_MAX_LISTED_ERRORS]
    ]
    first = listed[0] if listed else {"field": "body", "problem": "invalid request"}
    message = f"{first['field']}: {first['problem']}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return error_response(422, "invalid_request", message, {"errors": listed, "count": len(errors)})


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return validation_error_response(exc.errors())


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _STATUS_CODES.get(exc.status_code, "http_error")
    message = f"{request.method} {request.url.path}: {exc.detail}"
    response = error_response(exc.status_code, code, message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unexpected error answering %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        500, "internal_error", f"unexpected {type(exc).__name__} in the demo service"
    )


def install_error_handlers(app: FastAPI) -> None:
    """Make every error the app answers (404s and validation failures too) use the error shape."""
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected_error)
