"""Wasserstein-1 distance (earth mover's), normed by the reference standard deviation (floored
at 0.001), as Evidently does: "how far, in reference standard deviations, the current mass had
to move". Drift when ≥ 0.1. The default for numerical columns of references over 1,000 values.

Exact from raw values: ``∫ |A(x) − B(x)| dx`` over the merged sample (``scipy.stats.
wasserstein_distance``'s value). From a profile: on each bin the integral of ``A − B`` is exact
(integrating each CDF by parts needs only the bin's count and sum); the integral of ``|A − B|``
equals it unless the sign changes inside the bin, which both CDFs being monotone confines to
``2·min(∫(A−B)⁺, ∫(A−B)⁻)`` — bounded per bin by the bin width times the CDFs' overlap there.
Bins beyond the reference's range are exact (A is 0 or 1 there). The estimate is the lower
bound (sign changes inside a bin cost little in practice); the band is tiny where the
distributions differ (few sign changes) and widest when they are alike, far from 0.1."""

from __future__ import annotations

import numpy as np

from firewatch.drift import ecdf
from firewatch.drift.sketch import Floats, NumericSketch
from firewatch.drift.stattests.base import Estimate, Kind, StatTest, register

STD_FLOOR = 0.001


@register
class Wasserstein(StatTest):
    name = "wasserstein"
    title = "Wasserstein distance (normed)"
    kinds = frozenset({Kind.NUMERICAL})
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
        if reference_sorted is not None and current_sorted is not None:
            norm = max(float(np.std(reference_sorted)), STD_FLOOR)
            values, a, b = ecdf.merged(reference_sorted, current_sorted)
            distance = float(np.dot(np.abs(a - b)[:-1], np.diff(values)))
            return Estimate.exact(distance / norm, distance=distance)
        norm = max(reference.std, STD_FLOOR)
        low, slack = _bounded(reference, current)
        return Estimate(low / norm, low / norm, (low + slack) / norm)

    def describe(self) -> str:
        return "Wasserstein-1 distance / reference std; drift when ≥ threshold"


def _bounded(reference: NumericSketch, current: NumericSketch) -> tuple[float, float]:
    """(lower bound, width of the band) of W1 from two sketches over the same edges."""
    edges = reference.edges
    n, m = reference.n, current.n
    a = np.concatenate(([0.0], reference.cdf_at_edges()))  # a[k] = A(e_{k-1}), a[0] = A(-inf)
    b = np.concatenate(([0.0], current.cdf_at_edges()))
    # Below the first edge A = 0, above the last A = 1: exact from the current's counts and sums.
    below = (current.counts[0] * edges[0] - current.sums[0]) / m
    above = (current.sums[-1] - current.counts[-1] * edges[-1]) / m
    # Inner bins k = 1..E-1 span (e_{k-1}, e_k]: ∫F = F(e_{k-1})·w + Σ_{y in bin}(e_k − y)/N.
    width = np.diff(edges)
    inner = slice(1, len(edges))
    integral_a = a[1:-1] * width + (reference.counts[inner] * edges[1:] - reference.sums[inner]) / n
    integral_b = b[1:-1] * width + (current.counts[inner] * edges[1:] - current.sums[inner]) / m
    signed = integral_a - integral_b
    # Largest positive and negative parts A − B can have inside each bin.
    positive = width * np.maximum(0.0, a[2:] - b[1:-1])
    negative = width * np.maximum(0.0, b[2:] - a[1:-1])
    excess = np.where(
        signed >= 0,
        np.minimum(negative, positive - signed),
        np.minimum(positive, negative + signed),
    )
    slack = float(2 * np.sum(np.maximum(excess, 0.0)))
    low = float(np.sum(np.abs(signed)) + below + above)
    return low, slack
