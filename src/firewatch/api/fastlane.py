"""The ingest fast lane: the webhook ingest routes served straight from ASGI, in front of the
framework's middleware and routing, which otherwise cost more than the work itself at tens of
thousands of alerts a second. Same handler, same auth and validation as the documented routes.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from firewatch.api.routers.integrations import MAX_BODY, WEBHOOKS, accept_webhook
from firewatch.errors import FirewatchError, InvalidInput

log = logging.getLogger(__name__)

ROUTES = {f"/api/v1/integrations/{source}": source for source in WEBHOOKS}


class IngestFastLane:
    """ASGI app: ``POST /api/v1/integrations/{alertmanager,grafana}`` here, the rest to ``app``."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.state = app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        source = ROUTES.get(scope.get("path", "")) if scope["type"] == "http" else None
        if source is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        try:
            body = await _read_body(receive)
            authorization = _header(scope, b"authorization")
            answer: dict[str, Any] = await accept_webhook(
                self.state.runtime, self.state.token_cache, authorization, source, body
            )
            status = 200
        except FirewatchError as exc:
            status, answer = exc.status, exc.to_dict()
            headers.update((k.lower().encode(), v.encode()) for k, v in exc.headers().items())
        except Exception:  # a bug, never the client's input: logged, answered as JSON
            log.exception("ingest of %s failed", source)
            status = 500
            answer = {
                "error": {
                    "code": "internal_error",
                    "message": "internal error; see the server log",
                    "details": {},
                }
            }
        payload = orjson.dumps(answer)
        headers[b"content-type"] = b"application/json"
        headers[b"content-length"] = str(len(payload)).encode()
        await send(
            {"type": "http.response.start", "status": status, "headers": list(headers.items())}
        )
        await send({"type": "http.response.body", "body": payload})


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise InvalidInput(
                f"request body over {MAX_BODY // (1024 * 1024)} MB", code="payload_too_large"
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
