"""The loop that polls the registry and switches the served version when the alias moves (or
its traffic split changes)."""

from __future__ import annotations

import asyncio
import logging

import httpx

from firewatch.demo.metrics import DemoMetrics
from firewatch.demo.models import ModelCatalog
from firewatch.demo.registry import RegistryError, ServedSpec, fetch_served_spec
from firewatch.demo.settings import DemoSettings
from firewatch.demo.state import ActiveVersion, ServingState, TrafficMix, load_version

logger = logging.getLogger(__name__)


class RegistryPoller:
    """Polls the registry and swaps in the aliased version (and every version of its traffic
    split); keeps serving on registry trouble."""

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
        self._served: ServedSpec | None = None

    async def poll_once(self) -> None:
        """Ask the registry once; switch if the aliased version (or its metadata) or the
        traffic split changed."""
        settings = self._settings
        try:
            served = await fetch_served_spec(
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
        if self._state.active is not None and self._served == served:
            return
        active, mix = await asyncio.to_thread(self._load, served)
        self._switch(active, mix)
        self._served = served

    def _load(self, served: ServedSpec) -> tuple[ActiveVersion, TrafficMix | None]:
        """Load the alias's version and every version of the split (each spec once)."""
        name = self._settings.model_name
        loaded = {served.primary: load_version(name, served.primary, self._catalog)}
        for spec, _ in served.split:
            if spec not in loaded:
                loaded[spec] = load_version(name, spec, self._catalog)
        if not served.split:
            return loaded[served.primary], None
        versions = tuple(loaded[spec] for spec, _ in served.split)
        weights = tuple(weight for _, weight in served.split)
        return loaded[served.primary], TrafficMix(versions, weights)

    async def run_forever(self) -> None:
        """Poll every ``poll_interval`` seconds until cancelled, surviving unexpected errors."""
        while True:
            await asyncio.sleep(self._settings.poll_interval)
            try:
                await self.poll_once()
            except Exception:
                logger.exception("unexpected error while polling the model registry")

    def _switch(self, active: ActiveVersion, mix: TrafficMix | None) -> None:
        previous = self._state.active
        self._state.mix = mix
        self._state.active = active
        self._metrics.set_served(active.model_name, active.version)
        before = previous.version if previous else "nothing"
        if mix is not None:
            logger.info("%s traffic split: %s", active.model_name, mix.describe())
            problems = [v.load_error for v in mix.versions if v.model is None]
            for problem in problems:
                logger.warning("%s", problem)
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
