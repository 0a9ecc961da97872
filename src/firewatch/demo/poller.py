"""The loop that polls the registry and switches the served version when the alias moves."""

from __future__ import annotations

import asyncio
import logging

import httpx

from firewatch.demo.metrics import DemoMetrics
from firewatch.demo.models import ModelCatalog
from firewatch.demo.registry import RegistryError, fetch_served_spec
from firewatch.demo.settings import DemoSettings
from firewatch.demo.state import ActiveVersion, ServingState, load_version

logger = logging.getLogger(__name__)


class RegistryPoller:
    """Polls the registry and swaps in the aliased version; keeps serving on registry trouble."""

    def __init__(
        self,
        settings: DemoSettings,
        client: httpx.AsyncClient,
        state: ServingState,
        metrics: DemoMetrics,
        catalog: ModelCatalog,
    ) -> None:
        self._settings = settings
        self._client = client
        self._state = state
        self._metrics = metrics
        self._catalog = catalog

    async def poll_once(self) -> None:
        """Ask the registry once; switch if the aliased version (or its metadata) changed."""
        settings = self._settings
        try:
            spec = await fetch_served_spec(
                self._client,
                settings.registry_url,
                settings.model_name,
                settings.alias,
                settings.token,
            )
        except RegistryError as exc:
            self._set_problem(str(exc))
            return
        self._set_problem(None)
        current = self._state.active
        if current is not None and current.spec == spec:
            return
        name = settings.model_name
        active = await asyncio.to_thread(load_version, name, spec, self._catalog)
        self._switch(active)

    async def run_forever(self) -> None:
        """Poll every ``poll_interval`` seconds until cancelled, surviving unexpected errors."""
        while True:
            await asyncio.sleep(self._settings.poll_interval)
            try:
                await self.poll_once()
            except Exception:
                logger.exception("unexpected error while polling the model registry")

    def _switch(self, active: ActiveVersion) -> None:
        previous = self._state.active
        self._state.active = active
        self._metrics.set_served(active.model_name, active.version)
        before = previous.version if previous else "nothing"
        if active.model is None:
            logger.warning(
                "switched %s from %s to %s: %s",
                active.model_name,
                before,
                active.version,
                active.load_error,
            )
            return
        logger.info(
            "switched %s from %s to %s (%s, test accuracy %.3f)",
            active.model_name,
            before,
            active.version,
            active.model.algorithm,
            active.model.test_accuracy,
        )

    def _set_problem(self, problem: str | None) -> None:
        """Record the registry problem, logging only when it changes rather than on every poll."""
        if problem == self._state.registry_problem:
            return
        self._state.registry_problem = problem
        if problem is None:
            logger.info("model registry reachable again; following alias %r", self._settings.alias)
        elif self._state.active is None:
            logger.warning("no version to serve yet: %s", problem)
        else:
            logger.warning("%s; still serving version %s", problem, self._state.active.version)
