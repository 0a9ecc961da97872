"""Shared binning for the histogram tests (PSI, Jensen–Shannon): a numerical column's profile
bins merged into ``COARSE_BINS`` bins of about equal reference mass (reference deciles, to
within one profile bin), a categorical column's categories over the union of both; shares of
zero become ``EMPTY_SHARE`` (Evidently's convention) so logarithms stay finite."""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from firewatch.drift.sketch import CategoricalSketch, Floats, NumericSketch
from firewatch.drift.stattests.base import Estimate, Kind, StatTest

COARSE_BINS = 10
EMPTY_SHARE = 0.0001


def numeric_shares(
    reference: NumericSketch, current: NumericSketch, bins: int = COARSE_BINS
) -> tuple[Floats, Floats]:
    cumulative = np.cumsum(reference.counts)
    total = cumulative[-1]
    # The fine bin where each coarse bin ends: the first whose cumulative mass reaches k/bins.
    ends = np.unique(np.searchsorted(cumulative, total * np.arange(1, bins) / bins, side="left"))
    ends = ends[ends < len(reference.counts) - 1]
    starts = np.concatenate(([0], ends + 1))
    return _shares(np.add.reduceat(reference.counts, starts)), _shares(
        np.add.reduceat(current.counts, starts)
    )


def categorical_shares(
    reference: CategoricalSketch, current: CategoricalSketch
) -> tuple[Floats, Floats, list[str]]:
    """Shares over the union of categories (reference order first) and the new categories."""
    categories = list(reference.counts)
    new = [c for c in current.counts if c not in reference.counts]
    categories += new
    ref = np.array([reference.counts.get(c, 0) for c in categories], dtype=np.float64)
    cur = np.array([current.counts.get(c, 0) for c in categories], dtype=np.float64)
    return _shares(ref), _shares(cur), new


def _shares(counts: Floats) -> Floats:
    total = counts.sum()
    shares = counts / total if total else np.zeros(len(counts))
    return np.where(shares == 0, EMPTY_SHARE, shares)


class SharesTest(StatTest):
    """A distance between the two columns' shares (reference deciles or categories): exact from a
    profile, the same for raw data. Subclasses give ``distance``."""

    kinds = frozenset({Kind.NUMERICAL, Kind.CATEGORICAL})
    uses_p_value = False

    @abstractmethod
    def distance(self, reference: Floats, current: Floats) -> float:
        """The distance between two share vectors of equal length (no zeros)."""

    def numerical(
        self,
        reference: NumericSketch,
        current: NumericSketch,
        reference_sorted: Floats | None = None,
        current_sorted: Floats | None = None,
    ) -> Estimate:
        if reference.n == 0 or current.n == 0:
            return Estimate.exact(0.0)
        return Estimate.exact(self.distance(*numeric_shares(reference, current)))

    def categorical(self, reference: CategoricalSketch, current: CategoricalSketch) -> Estimate:
        if reference.n == 0 or current.n == 0:
            return Estimate.exact(0.0)
        ref, cur, _ = categorical_shares(reference, current)
        return Estimate.exact(self.distance(ref, cur))
