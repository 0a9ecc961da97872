"""Jensen–Shannon distance (``scipy.spatial.distance.jensenshannon``, natural log) between the
category shares, or between the shares over reference deciles for a numerical column. Drift
when ≥ 0.1. The default for categorical columns of references over 1,000 values."""

from __future__ import annotations

from scipy.spatial import distance

from firewatch.drift import binning
from firewatch.drift.sketch import CategoricalSketch, Floats, NumericSketch
from firewatch.drift.stattests.base import Estimate, Kind, StatTest, register


@register
class JensenShannon(StatTest):
    name = "jensen_shannon"
    title = "Jensen–Shannon distance"
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
        ref, cur = binning.numeric_shares(reference, current)
        return Estimate.exact(float(distance.jensenshannon(ref, cur)))

    def categorical(self, reference: CategoricalSketch, current: CategoricalSketch) -> Estimate:
        if reference.n == 0 or current.n == 0:
            return Estimate.exact(0.0)
        ref, cur, _ = binning.categorical_shares(reference, current)
        return Estimate.exact(float(distance.jensenshannon(ref, cur)))

    def describe(self) -> str:
        return "Jensen–Shannon distance of the shares; drift when ≥ threshold"
