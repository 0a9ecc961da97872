"""Pearson's chi-squared goodness of fit of the current category counts to the reference shares
(``scipy.stats.chisquare``, as Evidently uses it). Drift when p < 0.05. The default for
categorical columns with more than two categories and references up to 1,000 values.

A category the reference never saw would have an expected count of zero (an infinite
statistic); such categories are reported by name and the reference shares are smoothed by half
a count per category (a Jeffreys prior) so the test still says how far the rest moved."""

from __future__ import annotations

import numpy as np
from scipy import stats

from firewatch.drift.sketch import CategoricalSketch
from firewatch.drift.stattests.base import Estimate, Kind, StatTest, register


@register
class ChiSquared(StatTest):
    name = "chi_squared"
    title = "Chi-squared"
    kinds = frozenset({Kind.CATEGORICAL})
    threshold = 0.05
    uses_p_value = True

    def categorical(self, reference: CategoricalSketch, current: CategoricalSketch) -> Estimate:
        n_cur = current.n
        if reference.n == 0 or n_cur == 0:
            return Estimate.exact(0.0, 1.0)
        categories = list(reference.counts) + [
            c for c in current.counts if c not in reference.counts
        ]
        if len(categories) < 2:
            return Estimate.exact(0.0, 1.0)
        ref = np.array([reference.counts.get(c, 0) for c in categories], dtype=np.float64)
        observed = np.array([current.counts.get(c, 0) for c in categories], dtype=np.float64)
        if np.any(ref == 0):
            ref = ref + 0.5
        expected = ref / ref.sum() * n_cur
        found = stats.chisquare(observed, expected)
        return Estimate.exact(float(found.statistic), float(found.pvalue))

    def p_value(self, statistic: float, n_reference: int, n_current: int) -> float | None:
        return None  # always computed with the statistic (it needs the degrees of freedom)

    def describe(self) -> str:
        return "chi-squared test of the current counts against the reference shares"
