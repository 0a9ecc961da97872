"""``create_app``: the FastAPI application over a `Runtime`, whose lifespan runs the workers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from firewatch import __version__
from firewatch.api.deps import TokenCache
from firewatch.api.errors import install_error_handlers
from firewatch.api.routers import (
    alerts,
    drills,
    health,
    incidents,
    integrations,
    models,
    oncall,
    people,
    runbooks,
)
from firewatch.app import Runtime


def create_app(runtime: Runtime) -> FastAPI:
    """Usage: ``uvicorn.run(create_app(Runtime(config, Database())))``."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="Firewatch",
        version=__version__,
        description="Incident response for machine-learning models in production.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.token_cache = TokenCache()
    install_error_handlers(app)
    routers = (health, incidents, alerts, integrations, models, people, oncall, runbooks, drills)
    for module in routers:
        app.include_router(module.router)
    return app
