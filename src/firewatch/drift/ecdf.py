"""The two empirical CDFs of a pair of columns, from raw sorted values (exact) or from two
sketches over the same edges, and the error bounds of the sketched case.

Notation for sketches: ``a`` is the reference CDF, ``b`` the current one, both known exactly at
every edge ``e_k``; ``Δa_k`` is the reference mass of bin ``k``. Within a bin both CDFs are
non-decreasing, so for any ``x`` in it ``|a(x) − b(x)| ≤ max(|a_{k−1} − b_{k−1}|, |a_k − b_k|)
+ Δa_k`` — the bound the KS test uses.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from firewatch.drift.sketch import Floats, NumericSketch


def merged(reference: Floats, current: Floats) -> tuple[Floats, Floats, Floats]:
    """For the sorted union of two sorted samples: the distinct values and both ECDFs at each
    (right-continuous: P(X ≤ value)). Merging two sorted runs is linear (stable sort = merge)."""
    n, m = len(reference), len(current)
    values = np.concatenate((reference, current))
    order = np.argsort(values, kind="stable")
    values = values[order]
    counter = np.int64 if n + m >= 2**31 else np.int32  # int32 sums are several times faster
    from_reference: npt.NDArray[np.integer[Any]] = np.cumsum(order < n, dtype=counter)
    distinct = np.empty(n + m, dtype=bool)
    np.not_equal(values[:-1], values[1:], out=distinct[:-1])
    distinct[-1] = True
    if distinct.all():  # no ties (the usual case for continuous data): no compaction needed
        cdf_reference = from_reference / n
        cdf_current = (np.arange(1, n + m + 1) - from_reference) / m
        return values, cdf_reference, cdf_current
    at = np.flatnonzero(distinct)  # the last of each run of equal values
    cdf_reference = from_reference[at] / n
    cdf_current = (at + 1 - from_reference[at]) / m
    return values[at], cdf_reference, cdf_current


def cdfs_at_edges(reference: NumericSketch, current: NumericSketch) -> tuple[Floats, Floats]:
    return reference.cdf_at_edges(), current.cdf_at_edges()


def reference_bin_mass(reference: NumericSketch) -> Floats:
    n = reference.n
    return reference.counts / n if n else np.zeros(len(reference.counts))
