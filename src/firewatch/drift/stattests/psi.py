"""Population Stability Index: ``Σ (cur − ref) · ln(cur / ref)`` over reference deciles (numerical)
or categories. Drift when ≥ 0.1 (the usual reading: < 0.1 stable, 0.1–0.25 moderate shift,
> 0.25 major shift). Exact from a profile: its deciles are merged profile bins."""

from __future__ import annotations

import numpy as np

from firewatch.drift.binning import SharesTest
from firewatch.drift.sketch import Floats
from firewatch.drift.stattests.base import register


@register
class PopulationStabilityIndex(SharesTest):
    name = "psi"
    title = "Population Stability Index"
    threshold = 0.1

    def distance(self, reference: Floats, current: Floats) -> float:
        return float(np.sum((current - reference) * np.log(current / reference)))

    def describe(self) -> str:
        return "population stability index over reference deciles; drift when ≥ threshold"
