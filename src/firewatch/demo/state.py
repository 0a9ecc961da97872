"""What the demo service serves now, swapped atomically so each request sees one version."""

from __future__ import annotations

import bisect
import functools
import itertools
import random
from dataclasses import dataclass

from firewatch.demo.faults import FaultSettings
from firewatch.demo.models import ModelCatalog, TrainedModel
from firewatch.demo.versions import BrokenMode, VersionSpec


@dataclass(frozen=True)
class ActiveVersion:
    """A version after loading: either a trained model or the reason it failed to load."""

    model_name: str
    spec: VersionSpec
    model: TrainedModel | None
    load_error: str | None = None

    @property
    def version(self) -> str:
        return self.spec.version


def load_version(model_name: str, spec: VersionSpec, catalog: ModelCatalog) -> ActiveVersion:
    """Load ``spec`` the way a model server would; a broken or invalid version fails to load."""
    if spec.invalid is not None:
        return ActiveVersion(
            model_name, spec, None, f"version {spec.version} failed to load: {spec.invalid}"
        )
    if spec.broken is BrokenMode.CRASH:
        reason = f"version {spec.version} failed to load (injected by metadata.broken=crash)"
        return ActiveVersion(model_name, spec, None, reason)
    shuffled = spec.broken is BrokenMode.INACCURATE
    try:
        model = catalog.get(spec.algorithm, shuffled_labels=shuffled)
    except Exception as exc:  # a model that cannot be trained is a model that fails to load
        reason = f"version {spec.version} failed to load: {type(exc).__name__}: {exc}"
        return ActiveVersion(model_name, spec, None, reason)
    return ActiveVersion(model_name, spec, model)


@dataclass(frozen=True)
class TrafficMix:
    """Loaded versions sharing the requests by percent (the registry's traffic split)."""

    versions: tuple[ActiveVersion, ...]
    weights: tuple[int, ...]

    @functools.cached_property
    def _cumulative(self) -> list[int]:
        return list(itertools.accumulate(self.weights))

    def pick(self, rng: random.Random) -> ActiveVersion:
        """One version, each with the probability of its weight (on every request: the running
        totals are computed once per mix)."""
        draw = rng.randrange(self._cumulative[-1])
        return self.versions[bisect.bisect_right(self._cumulative, draw)]

    def describe(self) -> str:
        """``v2 90%, v3 10%``."""
        total = sum(self.weights)
        return ", ".join(
            f"{v.version} {round(100 * w / total)}%"
            for v, w in zip(self.versions, self.weights, strict=True)
        )


class ServingState:
    """The served version, its traffic split, the last registry problem and the injected faults
    of one app.

    Each attribute holds an immutable value that is replaced whole (a single reference assignment),
    so a request that reads ``active`` (or ``mix``) once keeps a consistent version even if a
    switch happens. ``active`` is the alias's version (what /health reports); with a split, each
    request is answered by a version drawn from ``mix``.
    """

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name
        self.active: ActiveVersion | None = None
        self.mix: TrafficMix | None = None
        self.registry_problem: str | None = None
        self.faults = FaultSettings()

    def version_for_request(self, rng: random.Random) -> ActiveVersion | None:
        """The version that answers one request: drawn from the split, else the alias's."""
        mix = self.mix
        return mix.pick(rng) if mix is not None else self.active


def unavailability(
    model_name: str,
    active: ActiveVersion | None,
    faults: FaultSettings,
    registry_problem: str | None = None,
) -> tuple[str, str] | None:
    """``(code, reason)`` when nothing can predict (outage, nothing or a broken load), else None."""
    if faults.outage:
        return "outage", "service outage (injected by the admin fault outage)"
    if active is None:
        waiting = registry_problem or "waiting for the model registry"
        return "model_not_loaded", f"no version of {model_name!r} loaded yet: {waiting}"
    if active.model is None:
        return "model_unavailable", active.load_error or f"version {active.version} failed to load"
    return None
