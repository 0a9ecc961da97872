"""Two-sample Kolmogorov–Smirnov: the largest gap between the two empirical CDFs, and its
p-value (``scipy.stats.ks_2samp``'s: exact below 10,000 values a side, then the distribution
of D for the effective size n·m/(n+m), and from an effective size of 10,000 Kolmogorov's
limiting distribution — within 1% of scipy's there, 0.2% at a million a side, and thousands of
times faster). Drift when p < 0.05. The default for numerical columns of small references.

From a profile the gap is known at every bin edge; between edges it can exceed the largest
edge gap by at most the reference mass of one bin (≈ 1 / bins), so the exact statistic lies in
``[D_edges, D_edges + max Δa]``. The estimate is ``D_edges``: with fine bins the largest gap
is almost always at (or within a hair of) an edge, so the verdict differs from the exact test's
only when the exact statistic lies inside that band — and then only sometimes."""

from __future__ import annotations

import numpy as np
from scipy import stats

from firewatch.drift import ecdf
from firewatch.drift.sketch import Floats, NumericSketch
from firewatch.drift.stattests.base import Estimate, Kind, StatTest, register

EXACT_BELOW = 10_000  # scipy's "auto" uses the exact distribution up to this size
LIMIT_FROM = 10_000  # effective size n·m/(n+m) from which the limiting distribution is used


@register
class KolmogorovSmirnov(StatTest):
    name = "ks"
    title = "Kolmogorov–Smirnov"
    kinds = frozenset({Kind.NUMERICAL})
    threshold = 0.05
    uses_p_value = True

    def numerical(
        self,
        reference: NumericSketch,
        current: NumericSketch,
        reference_sorted: Floats | None = None,
        current_sorted: Floats | None = None,
    ) -> Estimate:
        if reference_sorted is not None and current_sorted is not None:
            if max(len(reference_sorted), len(current_sorted)) < EXACT_BELOW:
                found = stats.ks_2samp(reference_sorted, current_sorted, method="auto")
                return Estimate.exact(float(found.statistic), float(found.pvalue))
            _, a, b = ecdf.merged(reference_sorted, current_sorted)
            return Estimate.exact(float(np.max(np.abs(a - b))))
        a, b = ecdf.cdfs_at_edges(reference, current)
        at_edges = float(np.max(np.abs(a - b))) if len(a) else 0.0
        slack = float(np.max(ecdf.reference_bin_mass(reference)))
        return Estimate(at_edges, at_edges, min(at_edges + slack, 1.0))

    def p_value(self, statistic: float, n_reference: int, n_current: int) -> float | None:
        if n_reference == 0 or n_current == 0:
            return 1.0
        m, n = sorted((float(n_reference), float(n_current)), reverse=True)
        effective = np.round(m * n / (m + n))
        if effective < LIMIT_FROM:
            return float(stats.kstwo.sf(statistic, effective))
        # scipy's kstwo.sf costs O(n) for small p (0.8 s at n = 500,000); Kolmogorov's limit is
        # within 1% of it from n = 10,000 on (0.2% at 500,000) and takes microseconds.
        return float(stats.kstwobign.sf(statistic * np.sqrt(effective)))

    def describe(self) -> str:
        return "largest gap between the two CDFs; drift when its p-value < threshold"
