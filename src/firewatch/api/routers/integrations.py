"""Ingest endpoints speaking other tools' formats: the Alertmanager webhook, Grafana alerting
webhooks and the PagerDuty Events API v2 (also at ``/v2/enqueue``, PagerDuty's own path).

The request path only authenticates, parses, validates and appends the batch to the durable
ingest log; the sender gets its 2xx once that is committed (a crash after that loses nothing),
and the alert processor does the rest in bulk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from firewatch.alerts import log as alert_log
from firewatch.alerts.ingest import parse_alertmanager, parse_grafana, parse_pagerduty
from firewatch.alerts.schemas import Alert
from firewatch.api.deps import TokenCache, check_token, runtime_of
from firewatch.app import Runtime
from firewatch.auth.service import Scope
from firewatch.errors import FirewatchError, InvalidInput, Overloaded, Unauthorized

router = APIRouter(tags=["integrations"])

MAX_BODY = 10 * 1024 * 1024

_WEBHOOK_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
    "responses": {
        "401": {"description": "missing or invalid bearer token"},
        "422": {"description": "invalid payload"},
        "503": {"description": "alert backlog full: nothing stored, retry after Retry-After"},
    },
}


def checked_size(body: bytes) -> bytes:
    if len(body) > MAX_BODY:
        raise InvalidInput(
            f"request body over {MAX_BODY // (1024 * 1024)} MB", code="payload_too_large"
        )
    return body


async def accept_webhook(
    runtime: Runtime, cache: TokenCache, authorization: str, source: str, body: bytes
) -> dict[str, Any]:
    """Authenticate, validate and durably accept one webhook body; the answer's JSON."""
    await check_token(runtime, cache, authorization, Scope.INGEST)
    alerts = WEBHOOKS[source](checked_size(body))
    if alerts:
        await runtime.accept_alerts(source, body, alerts)
    return {"status": "success", "accepted": len(alerts)}


WEBHOOKS: dict[str, Callable[[bytes], list[Alert]]] = {
    "alertmanager": parse_alertmanager,
    "grafana": parse_grafana,
}
"""Webhook sources by name; also what the fast lane serves."""


async def _webhook(request: Request, source: str) -> JSONResponse:
    answer = await accept_webhook(
        runtime_of(request),
        request.app.state.token_cache,
        request.headers.get("authorization", ""),
        source,
        await request.body(),
    )
    return JSONResponse(answer)


@router.post(
    "/api/v1/integrations/alertmanager",
    summary="Alertmanager webhook receiver (version 4 payload); bearer token with ingest scope",
    openapi_extra=_WEBHOOK_DOC,
)
async def alertmanager(request: Request) -> JSONResponse:
    return await _webhook(request, "alertmanager")


@router.post(
    "/api/v1/integrations/grafana",
    summary="Grafana alerting webhook receiver; bearer token with ingest scope",
    openapi_extra=_WEBHOOK_DOC,
)
async def grafana(request: Request) -> JSONResponse:
    return await _webhook(request, "grafana")


def _pagerduty_error(exc: FirewatchError) -> JSONResponse:
    """PagerDuty's error shape (what its clients parse) alongside Firewatch's own."""
    problems = [f"{e['field']}: {e['problem']}" for e in exc.details.get("errors", [])] or [
        exc.message
    ]
    if isinstance(exc, Overloaded):  # PagerDuty's throttling answer, which senders retry
        body = {
            "status": "throttle event",
            "message": "Requests for this service are arriving too quickly. Please retry later.",
            "errors": problems,
            **exc.to_dict(),
        }
        return JSONResponse(body, status_code=429, headers=exc.headers())
    status = {401: 400, 422: 400}.get(exc.status, exc.status)
    if exc.code == "payload_too_large":
        status = 413
    body = {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": problems,
        **exc.to_dict(),
    }
    return JSONResponse(body, status_code=status)


@router.post(
    "/api/v1/integrations/pagerduty",
    status_code=202,
    summary="PagerDuty Events API v2 (trigger / acknowledge / resolve); routing_key = an ingest token",
    openapi_extra={"requestBody": _WEBHOOK_DOC["requestBody"]},
)
@router.post("/v2/enqueue", status_code=202, include_in_schema=False)
async def pagerduty(request: Request) -> JSONResponse:
    runtime = runtime_of(request)
    try:
        body = checked_size(await request.body())
        event = parse_pagerduty(body, received_at=runtime.clock.now())
        cache: TokenCache = request.app.state.token_cache
        token = await cache.verify(runtime, event.routing_key)
        if token is None or not token.scope.allows(Scope.INGEST):
            raise Unauthorized(
                "routing_key is not an integration key issued by this Firewatch",
                code="invalid_routing_key",
            )
        event.alert.labels["integration"] = token.name
        payload = alert_log.encode_alerts([event.alert])
        await runtime.accept_alerts(alert_log.INTERNAL, payload, [event.alert])
    except FirewatchError as exc:
        return _pagerduty_error(exc)
    return JSONResponse(
        {"status": "success", "message": "Event processed", "dedup_key": event.dedup_key},
        status_code=202,
    )
