"""The drift tests, one module each, registered by name (see `base.register`)::

from firewatch.drift.stattests import get
result = get("ks").judge(estimate, threshold, n_reference, n_current)
"""

from __future__ import annotations

from firewatch.drift.stattests import (  # noqa: F401  (each module registers its test)
    chi_squared,
    jensen_shannon,
    ks,
    psi,
    wasserstein,
    z_test,
)
from firewatch.drift.stattests.base import REGISTRY, Estimate, Kind, StatTest, TestResult


def get(name: str) -> StatTest:
    """The test registered under ``name``; a ValueError naming the known ones otherwise."""
    found = REGISTRY.get(name)
    if found is None:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown drift test {name!r} (known: {known})")
    return found


__all__ = ["REGISTRY", "Estimate", "Kind", "StatTest", "TestResult", "get"]
