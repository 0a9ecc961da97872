"""Running the demo service in-process for tests: a fake registry transport and an ASGI client."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from firewatch.demo.app import create_demo_app
from firewatch.demo.settings import DemoSettings

FAKE_REGISTRY_URL = "http://registry.test"


class FakeRegistry:
    """An in-memory stand-in for the registry's ``GET /api/v1/models/{name}`` (httpx transport).

    Change ``aliases``/``versions`` (or set ``down``) at any time; the next poll sees the change.
    """

    def __init__(self, model_name: str = "breast-cancer", token: str | None = None) -> None:
        self.model_name = model_name
        self.token = token
        self.aliases: dict[str, str] = {}
        self.versions: dict[str, dict[str, object]] = {}
        self.down = False
        self.requests: list[httpx.Request] = []

    def add_version(self, version: str, **metadata: object) -> None:
        """Register ``version`` with ``metadata`` (e.g. ``algorithm="random_forest"``)."""
        self.versions[version] = dict(metadata)

    def set_alias(self, alias: str, version: str) -> None:
        """Point ``alias`` at ``version``."""
        self.aliases[alias] = version

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one registry request (the ``httpx.MockTransport`` handler)."""
        self.requests.append(request)
        if self.down:
            raise httpx.ConnectError("registry is down", request=request)
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            return httpx.Response(401, json={"error": {"code": "unauthorized"}})
        if request.url.path != f"/api/v1/models/{self.model_name}":
            return httpx.Response(404, json={"error": {"code": "not_found"}})
        return httpx.Response(200, json=self.document())

    async def wait_for_polls(self, count: int = 2, timeout: float = 2.0) -> None:
        """Wait until ``count`` more requests reached the registry (so the first was processed)."""
        target = len(self.requests) + count
        deadline = time.monotonic() + timeout
        while len(self.requests) < target:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"registry got {len(self.requests)} of {target} requests")
            await asyncio.sleep(0.01)

    def document(self) -> dict[str, object]:
        """The registry's JSON description of the model."""
        versions = [
            {"version": v, "metadata": m, "created_at": "2026-01-15T14:30:00Z", "extra": 1}
            for v, m in self.versions.items()
        ]
        return {"name": self.model_name, "aliases": dict(self.aliases), "versions": versions}

    def client(self) -> httpx.AsyncClient:
        """An AsyncClient whose requests this fake registry answers."""
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    def settings(self, **overrides: Any) -> DemoSettings:
        """DemoSettings pointing at this registry (fast polling), with ``overrides`` applied."""
        base = DemoSettings(
            model_name=self.model_name,
            registry_url=FAKE_REGISTRY_URL,
            token=self.token,
            poll_interval=0.02,
            random_seed=7,
        )
        overrides.setdefault("http_client", self.client())
        return dataclasses.replace(base, **overrides)


@asynccontextmanager
async def running_demo(settings: DemoSettings) -> AsyncIterator[httpx.AsyncClient]:
    """Run a demo app's lifespan and yield a client calling it in-process.

    ``settings.http_client`` (the registry client, created per app by ``FakeRegistry.settings``)
    is closed on exit.
    """
    app = create_demo_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://demo-model") as client,
    ):
        yield client
    if settings.http_client is not None:
        await settings.http_client.aclose()


async def wait_for_version(client: httpx.AsyncClient, version: str, timeout: float = 3.0) -> None:
    """Wait until /health names ``version``; raise TimeoutError naming the last answer if not."""
    deadline = time.monotonic() + timeout
    body: object = None
    while time.monotonic() < deadline:
        body = (await client.get("/health")).json()
        if isinstance(body, dict) and body.get("version") == version:
            return
        await asyncio.sleep(0.01)
    raise TimeoutError(f"demo service did not switch to {version!r}; last /health: {body!r}")
