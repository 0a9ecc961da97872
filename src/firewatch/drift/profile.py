"""Reference profiles: a model's reference data reduced to what the drift tests need — per
column a sketch (`firewatch.drift.sketch`) and how many distinct values it had — plus a small
random sample of whole rows for the multivariate detector. A profile of 20 columns is
about 1.7 MB of JSON (0.9 MB of sketches, 0.8 MB of sample rows) whatever the row count;
current windows are compared with it in bounded memory.

A numerical column with at most ``LOW_CARDINALITY`` distinct values is profiled as categorical
(its values as categories), as Evidently does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from firewatch.drift.data import DataError, Table
from firewatch.drift.sketch import (
    DEFAULT_BINS,
    CategoricalSketch,
    Floats,
    NumericSketch,
    Sketch,
    category_name,
    quantile_edges,
    sorted_finite,
)
from firewatch.drift.stattests.base import Kind

FORMAT = "firewatch-profile/1"
LOW_CARDINALITY = 5
SAMPLE_ROWS = 2_000


@dataclass
class ColumnProfile:
    kind: Kind
    sketch: Sketch
    distinct: int  # distinct non-missing values (categorical: categories)

    @property
    def rows(self) -> int:
        return self.sketch.n + self.sketch.nulls

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "distinct": self.distinct, **self.sketch.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnProfile:
        kind = Kind(data["kind"])
        sketch: Sketch = (
            NumericSketch.from_dict(data)
            if kind is Kind.NUMERICAL
            else CategoricalSketch.from_dict(data)
        )
        return cls(kind, sketch, int(data["distinct"]))


@dataclass
class Profile:
    columns: dict[str, ColumnProfile]
    rows: int
    bins: int = DEFAULT_BINS
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    source: str = ""
    sample: dict[str, list[Any]] = field(default_factory=dict)  # up to SAMPLE_ROWS whole rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "rows": self.rows,
            "bins": self.bins,
            "created_at": self.created_at.isoformat(),
            "source": self.source,
            "columns": {name: column.to_dict() for name, column in self.columns.items()},
            "sample": self.sample,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        if data.get("format") != FORMAT:
            raise DataError(
                f"not a Firewatch profile (format {data.get('format')!r}, expected {FORMAT!r})"
            )
        try:
            return cls(
                columns={
                    str(name): ColumnProfile.from_dict(column)
                    for name, column in data["columns"].items()
                },
                rows=int(data["rows"]),
                bins=int(data.get("bins", DEFAULT_BINS)),
                created_at=datetime.fromisoformat(data["created_at"]),
                source=str(data.get("source", "")),
                sample={str(k): list(v) for k, v in dict(data.get("sample") or {}).items()},
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise DataError(f"broken profile: {exc}") from exc

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), separators=(",", ":")))

    @classmethod
    def load(cls, path: str | Path) -> Profile:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except OSError as exc:
            raise DataError(f"{path}: cannot read it: {exc.strerror or exc}") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: not a profile (not JSON: {exc})") from exc
        if not isinstance(data, dict):
            raise DataError(f"{path}: not a profile")
        return cls.from_dict(data)


@dataclass
class PreparedColumn:
    """A column ready for testing: its profile and, for exact tests, its sorted raw values."""

    profile: ColumnProfile
    sorted_values: Floats | None = None


def profile_column(
    kind: Kind, values: Any, bins: int = DEFAULT_BINS, *, keep_sorted: bool = False
) -> PreparedColumn:
    """Profile one column of a reference (``values`` as in `firewatch.drift.data.Column`)."""
    if kind is Kind.CATEGORICAL:
        sketch = CategoricalSketch.of_values(values)
        return PreparedColumn(ColumnProfile(kind, sketch, len(sketch.counts)))
    ordered, nulls = sorted_finite(values)
    distinct = int(np.count_nonzero(np.diff(ordered))) + 1 if len(ordered) else 0
    if 0 < distinct <= LOW_CARDINALITY:
        found, counts = np.unique(ordered, return_counts=True)
        categories = CategoricalSketch(
            {category_name(float(v)): int(c) for v, c in zip(found, counts, strict=True)}, nulls
        )
        return PreparedColumn(ColumnProfile(Kind.CATEGORICAL, categories, distinct))
    numeric = NumericSketch.of_sorted(ordered, quantile_edges(ordered, bins), nulls)
    return PreparedColumn(
        ColumnProfile(Kind.NUMERICAL, numeric, distinct), ordered if keep_sorted else None
    )


def conform(
    column: ColumnProfile, kind: Kind, values: Any, *, keep_sorted: bool = False
) -> PreparedColumn | str:
    """Fold a current column into the reference column's sketch, or say why it cannot be."""
    if column.kind is Kind.CATEGORICAL:
        if kind is Kind.NUMERICAL:
            array = np.asarray(values, dtype=np.float64)
            values = [None if v != v else category_name(float(v)) for v in array.tolist()]
        categories = CategoricalSketch.of_values(values)
        return PreparedColumn(ColumnProfile(Kind.CATEGORICAL, categories, len(categories.counts)))
    if kind is not Kind.NUMERICAL:
        if any(v is not None and v == v for v in values):
            return "type changed: numerical in the reference, categorical now"
        values = np.full(len(values), np.nan)  # empty or all missing: no type to have changed
    assert isinstance(column.sketch, NumericSketch)
    ordered, nulls = sorted_finite(values)
    sketch = NumericSketch.of_sorted(ordered, column.sketch.edges, nulls)
    distinct = int(np.count_nonzero(np.diff(ordered))) + 1 if len(ordered) else 0
    return PreparedColumn(
        ColumnProfile(Kind.NUMERICAL, sketch, distinct), ordered if keep_sorted else None
    )


def build_profile(
    table: Table,
    *,
    bins: int = DEFAULT_BINS,
    source: str = "",
    sample_rows: int = SAMPLE_ROWS,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> Profile:
    """Profile every column of a reference table."""
    if table.rows == 0:
        raise DataError("the reference has no rows")
    columns = {}
    for name, column in table.columns.items():
        columns[name] = profile_column(column.kind, column.values, bins).profile
        if progress:
            progress(name)
    return Profile(
        columns, table.rows, bins, source=source, sample=sample(table, sample_rows, seed)
    )


def sample(table: Table, rows: int, seed: int = 0) -> dict[str, list[Any]]:
    """Up to ``rows`` whole rows, drawn at random without replacement (JSON-ready)."""
    if table.rows == 0 or rows <= 0:
        return {}
    chosen = np.random.default_rng(seed).choice(table.rows, min(rows, table.rows), replace=False)
    chosen.sort()
    out: dict[str, list[Any]] = {}
    for name, column in table.columns.items():
        picked = column.values[chosen]
        if column.kind is Kind.NUMERICAL:
            out[name] = [None if v != v else v for v in picked.tolist()]
        else:
            out[name] = picked.tolist()
    return out
