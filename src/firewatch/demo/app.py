"""Assembling the demo model service: the FastAPI app and the lifespan running the poller."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI

from firewatch.demo.errors import install_error_handlers
from firewatch.demo.metrics import DemoMetrics
from firewatch.demo.models import default_catalog
from firewatch.demo.poller import RegistryPoller
from firewatch.demo.predict import Predictor
from firewatch.demo.routes import build_router
from firewatch.demo.settings import DemoSettings
from firewatch.demo.state import ServingState


def create_demo_app(settings: DemoSettings) -> FastAPI:
    """A demo model service serving the version that the registry alias in ``settings`` points to.

    The registry is polled from the app's lifespan: the first poll happens before the app starts
    answering, then every ``settings.poll_interval`` seconds.
    """
    state = ServingState(settings.model_name)
    metrics = DemoMetrics()
    predictor = Predictor(state, metrics, random.Random(settings.random_seed))
    app = FastAPI(
        title=f"Firewatch demo model service ({settings.model_name})",
        lifespan=_lifespan(settings, state, metrics),
    )
    install_error_handlers(app)
    app.include_router(build_router(state, metrics, predictor))
    app.state.serving = state
    return app


def _lifespan(
    settings: DemoSettings, state: ServingState, metrics: DemoMetrics
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            client = settings.http_client
            if client is None:
                timeout = httpx.Timeout(settings.registry_timeout)
                client = await stack.enter_async_context(httpx.AsyncClient(timeout=timeout))
            poller = RegistryPoller(settings, client, state, metrics, default_catalog())
            await poller.poll_once()
            task = asyncio.create_task(poller.run_forever(), name="firewatch-demo-registry-poller")
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return lifespan
