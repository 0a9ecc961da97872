"""A webhook receiver that records what it gets and answers what the test tells it to."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class Received:
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Receiver:
    """POST /hook records the JSON body; ``responses`` (status, headers) are answered in order."""

    responses: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            body = orjson.loads(await request.body())
            with self.lock:
                self.received.append(Received(dict(request.headers), body))
                status, headers = self.responses.pop(0) if self.responses else (200, {})
            return Response("ok" if status < 300 else "no", status_code=status, headers=headers)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r.body for r in self.received]
