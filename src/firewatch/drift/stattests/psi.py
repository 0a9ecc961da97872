"""Population Stability Index: ``Σ (cur − ref) · ln(cur / ref)`` over reference deciles (numerical)
or categories. Drift when ≥ 0.1 (the usual reading: < 0.1 stable, 0.1–0.25 moderate shift,
> 0.25 major shift). Exact from a profile: its deciles are merged profile bins."""

from __future__ import annotations

import numpy as np

from firewatch.drift import binning
from firewatch.drift.sketch import CategoricalSketch, Floats, NumericSketch
from firewatch.drift.stattests.base import Estimate, Kind, StatTest, register


@register
class PopulationStabilityIndex(StatTest):
    name = "psi"
    title = "Population Stability Index"
    kinds = frozenset({Kind.NUMERICAL, Kind.CATEGORICAL})
    threshold = 0.1
    uses_p_value = False

    def numerical(
        self,
        reference: NumericSketch,
        current: NumericSketch,
        reference_sorted: Floats | None = None,
        current_sorted: Floats | None = None,
    ) -> Estimate:
        if reference.n == 0 or current.n == 0:
            return Estimate.exact(0.0)
        return Estimate.exact(_psi(*binning.numeric_shares(reference, current)))

    def categorical(self, reference: CategoricalSketch, current: CategoricalSketch) -> Estimate:
        if reference.n == 0 or current.n == 0:
            return Estimate.exact(0.0)
        ref, cur, _ = binning.categorical_shares(reference, current)
        return Estimate.exact(_psi(ref, cur))

    def describe(self) -> str:
        return "population stability index over reference deciles; drift when ≥ threshold"


def _psi(reference: Floats, current: Floats) -> float:
    return float(np.sum((current - reference) * np.log(current / reference)))
