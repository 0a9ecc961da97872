"""Assembling the demo model service: the FastAPI app, and the lifespan running the registry
poller and (with an ingest token) the reporter of inference events."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI

from firewatch.demo.errors import install_error_handlers
from firewatch.demo.ingest import BatchPoster, ingest_url
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
    answering, then every ``settings.poll_interval`` seconds. With ``settings.ingest_token``,
    each prediction is reported to Firewatch's events API (see `Predictor`).
    """
    state = ServingState(settings.model_name)
    metrics = DemoMetrics()
    predictor = Predictor(state, metrics, random.Random(settings.random_seed))
    app = FastAPI(
        title=f"Firewatch demo model service ({settings.model_name})",
        lifespan=_lifespan(settings, state, metrics, predictor),
    )
    install_error_handlers(app)
    app.include_router(build_router(state, metrics, predictor))
    app.state.serving = state
    app.state.predictor = predictor
    return app


def _lifespan(
    settings: DemoSettings, state: ServingState, metrics: DemoMetrics, predictor: Predictor
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
            tasks = [
                asyncio.create_task(poller.run_forever(), name="firewatch-demo-registry-poller")
            ]
            if settings.ingest_token is not None:
                reporter = BatchPoster(
                    client,
                    ingest_url(settings.registry_url, settings.model_name, "events"),
                    "events",
                    token=settings.ingest_token,
                    interval=settings.events_interval,
                )
                predictor.reporter = reporter
                tasks.append(
                    asyncio.create_task(reporter.run_forever(), name="firewatch-demo-events")
                )
            try:
                yield
            finally:
                # Events of the last interval are not sent: at shutdown, Firewatch may be
                # stopping too, and a demo that exits promptly matters more.
                predictor.reporter = None
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    return lifespan
