"""An API client over a real `Runtime` (workers off unless asked) via httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from firewatch.api.app import create_app
from firewatch.api.fastlane import IngestFastLane
from firewatch.app import Runtime
from firewatch.auth import service as auth_service
from firewatch.auth.service import Scope
from firewatch.clock import Clock
from firewatch.config import FirewatchConfig
from firewatch.store.db import Database


def make_token(db: Database, clock: Clock, scope: Scope, name: str = "tester") -> str:
    with db.write_session() as s:
        return auth_service.create_token(s, name=name, scope=scope, now=clock.now())


@asynccontextmanager
async def api_client(
    db: Database,
    clock: Clock,
    *,
    config: FirewatchConfig | None = None,
    scope: Scope | None = Scope.ADMIN,
    run_workers: bool = False,
) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    runtime = Runtime(config or FirewatchConfig(), db, clock=clock, run_workers=run_workers)
    app = IngestFastLane(create_app(runtime))  # what `firewatch serve` runs
    headers = {"Authorization": f"Bearer {make_token(db, clock, scope)}"} if scope else {}
    await runtime.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://fw", headers=headers
        ) as client:
            yield client, runtime
    finally:
        await runtime.stop()
