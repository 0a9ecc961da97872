"""Jensen–Shannon distance (``scipy.spatial.distance.jensenshannon``, natural log) between the
category shares, or between the shares over reference deciles for a numerical column. Drift
when ≥ 0.1. The default for categorical columns of references over 1,000 values."""

from __future__ import annotations

from scipy.spatial.distance import jensenshannon

from firewatch.drift.binning import SharesTest
from firewatch.drift.sketch import Floats
from firewatch.drift.stattests.base import register


@register
class JensenShannon(SharesTest):
    name = "jensen_shannon"
    title = "Jensen–Shannon distance"
    threshold = 0.1

    def distance(self, reference: Floats, current: Floats) -> float:
        return float(jensenshannon(reference, current))

    def describe(self) -> str:
        return "Jensen–Shannon distance of the shares; drift when ≥ threshold"
