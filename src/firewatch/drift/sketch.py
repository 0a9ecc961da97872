"""Compact, mergeable summaries of one column: what a reference profile stores and what a
current window is folded into, in bounded memory.

A numerical column becomes counts and sums over fixed bin edges taken from the reference's
quantiles (``bins`` equal-mass bins, 1,000 by default). Bin ``k`` holds the values in
``(edges[k-1], edges[k]]``; bin 0 everything up to ``edges[0]`` (the reference minimum) and the
last bin everything above ``edges[-1]`` (its maximum). Both empirical CDFs are then known
*exactly* at every edge, and the sum per bin gives each bin's exact first moment — the two facts
the profile-based tests (`firewatch.drift.stattests`) build their error bounds on.

A categorical column becomes its category counts, at most ``MAX_CATEGORIES`` of them (the rest
are counted under ``OTHER``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

DEFAULT_BINS = 1000
MAX_CATEGORIES = 1000
OTHER = "(other)"

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


def sorted_finite(values: npt.ArrayLike) -> tuple[Floats, int]:
    """The finite values, sorted, and how many were missing (None, NaN — and ±inf, which no
    distance or quantile can use)."""
    array = np.asarray(values, dtype=np.float64)
    missing = ~np.isfinite(array)
    nulls = int(missing.sum())
    if nulls:
        array = array[~missing]
    return np.sort(array), nulls


def quantile_edges(sorted_values: Floats, bins: int = DEFAULT_BINS) -> Floats:
    """Edges of ``bins`` equal-mass bins of sorted values: their quantiles, duplicates removed
    (a value that holds more than one bin's mass becomes a single edge)."""
    n = len(sorted_values)
    if n == 0:
        return np.empty(0)
    positions = np.unique(np.round(np.linspace(0, n - 1, min(bins, n - 1) + 1)).astype(np.int64))
    return np.unique(sorted_values[positions])


@dataclass
class NumericSketch:
    """Counts and sums of a numerical column over fixed edges (``len(edges) + 1`` bins)."""

    edges: Floats
    counts: Ints
    sums: Floats
    nulls: int = 0
    m2: float = 0.0  # sum of squared deviations from the mean (mergeable, no cancellation)
    minimum: float = math.inf
    maximum: float = -math.inf

    @classmethod
    def empty(cls, edges: Floats) -> NumericSketch:
        size = len(edges) + 1
        return cls(edges, np.zeros(size, np.int64), np.zeros(size, np.float64))

    @classmethod
    def of_sorted(cls, sorted_values: Floats, edges: Floats, nulls: int = 0) -> NumericSketch:
        """Fold sorted, NaN-free values in: O(len(edges) · log n) after the sort."""
        n = len(sorted_values)
        if n == 0:
            sketch = cls.empty(edges)
            sketch.nulls = nulls
            return sketch
        ends = np.searchsorted(sorted_values, edges, side="right")
        bounds = np.concatenate(([0], ends, [n]))
        running = np.cumsum(sorted_values)
        totals = np.where(bounds > 0, running[np.maximum(bounds - 1, 0)], 0.0)
        return cls(
            edges=edges,
            counts=np.diff(bounds).astype(np.int64),
            sums=np.diff(totals),
            nulls=nulls,
            m2=float(sorted_values.var() * n),
            minimum=float(sorted_values[0]),
            maximum=float(sorted_values[-1]),
        )

    @classmethod
    def of_values(cls, values: npt.ArrayLike, edges: Floats) -> NumericSketch:
        ordered, nulls = sorted_finite(values)
        return cls.of_sorted(ordered, edges, nulls)

    @property
    def n(self) -> int:
        """Non-missing values."""
        return int(self.counts.sum())

    @property
    def mean(self) -> float:
        n = self.n
        return float(self.sums.sum()) / n if n else math.nan

    @property
    def std(self) -> float:
        """Population standard deviation (what Evidently norms Wasserstein by)."""
        n = self.n
        if n == 0:
            return math.nan
        return math.sqrt(self.m2 / n)

    def cdf_at_edges(self) -> Floats:
        """P(X ≤ edge) for every edge."""
        n = self.n
        return np.cumsum(self.counts[:-1]) / n if n else np.zeros(len(self.edges))

    def merge(self, other: NumericSketch) -> None:
        """Add another sketch over the same edges into this one."""
        if other.edges is not self.edges and not np.array_equal(other.edges, self.edges):
            raise ValueError("sketches over different edges cannot be merged")
        n_self, n_other = self.n, other.n
        if n_self and n_other:
            delta = other.mean - self.mean
            self.m2 += other.m2 + delta * delta * n_self * n_other / (n_self + n_other)
        elif n_other:
            self.m2 = other.m2
        self.counts += other.counts
        self.sums += other.sums
        self.nulls += other.nulls
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)

    def add(self, values: Floats) -> None:
        """Fold unsorted values in (streaming)."""
        self.merge(NumericSketch.of_values(values, self.edges))

    def to_dict(self) -> dict[str, Any]:
        return {
            "edges": self.edges.tolist(),
            "counts": self.counts.tolist(),
            "sums": self.sums.tolist(),
            "nulls": self.nulls,
            "m2": self.m2,
            "min": self.minimum if self.n else None,
            "max": self.maximum if self.n else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericSketch:
        edges = np.asarray(data["edges"], dtype=np.float64)
        counts = np.asarray(data["counts"], dtype=np.int64)
        sums = np.asarray(data["sums"], dtype=np.float64)
        if len(counts) != len(edges) + 1 or len(sums) != len(counts):
            raise ValueError("a numerical sketch needs len(edges) + 1 counts and sums")
        if len(edges) > 1 and not np.all(np.diff(edges) > 0):
            raise ValueError("sketch edges must be strictly increasing")
        return cls(
            edges=edges,
            counts=counts,
            sums=sums,
            nulls=int(data.get("nulls", 0)),
            m2=float(data.get("m2", 0.0)),
            minimum=math.inf if data.get("min") is None else float(data["min"]),
            maximum=-math.inf if data.get("max") is None else float(data["max"]),
        )


@dataclass
class CategoricalSketch:
    """Category counts (at most ``MAX_CATEGORIES``; the rest under ``OTHER``)."""

    counts: dict[str, int] = field(default_factory=dict)
    nulls: int = 0

    @classmethod
    def of_values(cls, values: Iterable[Any]) -> CategoricalSketch:
        sketch = cls()
        sketch.add(values)
        return sketch

    @property
    def n(self) -> int:
        return sum(self.counts.values())

    def add(self, values: Iterable[Any]) -> None:
        tally = Counter(values)
        self.nulls += tally.pop(None, 0)
        nan_keys = [key for key in tally if isinstance(key, float) and math.isnan(key)]
        for key in nan_keys:
            self.nulls += tally.pop(key)
        self.add_counts({category_name(key): n for key, n in tally.items()})

    def add_counts(self, counts: Mapping[str, int]) -> None:
        for key, n in counts.items():
            if key not in self.counts and len(self.counts) >= MAX_CATEGORIES - 1:
                key = OTHER
            self.counts[key] = self.counts.get(key, 0) + n

    def merge(self, other: CategoricalSketch) -> None:
        self.add_counts(other.counts)
        self.nulls += other.nulls

    def to_dict(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "nulls": self.nulls}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoricalSketch:
        counts = {str(k): int(v) for k, v in dict(data["counts"]).items()}
        if any(v < 0 for v in counts.values()):
            raise ValueError("category counts cannot be negative")
        return cls(counts, int(data.get("nulls", 0)))


def category_name(value: Any) -> str:
    """Categories are compared as text: ``True`` is ``"true"`` (as in CSV), ``2.0`` is ``"2"``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


Sketch = NumericSketch | CategoricalSketch
