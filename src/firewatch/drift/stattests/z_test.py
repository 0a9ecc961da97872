"""Two-proportion Z-test (pooled) on the share of one category of a two-category column, as
Evidently's default for binary columns of references up to 1,000 values. Drift when p < 0.05.
The share tested is that of the reference's most frequent category."""

from __future__ import annotations

import math

from scipy import stats

from firewatch.drift.sketch import CategoricalSketch
from firewatch.drift.stattests.base import Estimate, Kind, StatTest, register


@register
class ZTest(StatTest):
    name = "z"
    title = "Z-test for proportions"
    kinds = frozenset({Kind.CATEGORICAL})
    threshold = 0.05
    uses_p_value = True

    def categorical(self, reference: CategoricalSketch, current: CategoricalSketch) -> Estimate:
        n_ref, n_cur = reference.n, current.n
        if n_ref == 0 or n_cur == 0:
            return Estimate.exact(0.0, 1.0)
        category = max(reference.counts, key=lambda c: reference.counts[c])
        p_ref = reference.counts[category] / n_ref
        p_cur = current.counts.get(category, 0) / n_cur
        pooled = (reference.counts[category] + current.counts.get(category, 0)) / (n_ref + n_cur)
        spread = math.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / n_cur))
        if spread == 0:  # both all one category: nothing moved
            return Estimate.exact(0.0, 1.0, category=category)
        z = (p_cur - p_ref) / spread
        return Estimate.exact(z, float(2 * stats.norm.sf(abs(z))), category=category)

    def p_value(self, statistic: float, n_reference: int, n_current: int) -> float | None:
        return float(2 * stats.norm.sf(abs(statistic)))

    def describe(self) -> str:
        return "two-proportion Z-test on the share of the main category"
