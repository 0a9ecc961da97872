"""Data quality of current data against a reference profile: the breakages that are not drift.

Checks, each giving findings at level ``warning`` or ``critical``:

================ ======================================================= ==================
check            finding when                                            level
================ ======================================================= ==================
``no_rows``      the current data has no rows                            critical
``volume``       rows < ``min_volume`` (50%) of the expected row count   warning (critical
                                                                         under 10%)
``missing``      a reference column is not in the current data           critical
``new_column``   a current column is not in the reference                warning
``type_changed`` numerical in the reference, categorical now, or back    critical
``all_null``     every current value is missing (the reference had some) critical
``null_rate``    the missing share rose by more than ``null_rise`` (5    warning
                 points)
``out_of_range`` more than ``out_of_range`` (1%) of the values are below warning
                 the reference minimum or above its maximum
``new_category`` more than ``new_categories`` (1%) of the values are     warning
                 categories the reference never saw
``constant``     one distinct value now, several in the reference        warning
================ ======================================================= ==================

`check_quality` takes a raw current `Table` (folded into the profile's sketches with
`firewatch.drift.profile.conform`); `check_quality_sketches` takes current columns already
folded into sketches — what the streaming pipeline keeps. Nothing about the data raises.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from firewatch.drift.data import Table
from firewatch.drift.profile import ColumnProfile, Profile, conform
from firewatch.drift.sketch import OTHER, CategoricalSketch, Floats, NumericSketch
from firewatch.drift.stattests.base import Kind

Level = Literal["warning", "critical"]
Check = Literal[
    "no_rows",
    "volume",
    "missing",
    "new_column",
    "type_changed",
    "all_null",
    "null_rate",
    "out_of_range",
    "new_category",
    "constant",
]


@dataclass(frozen=True)
class QualityOptions:
    null_rise: float = 0.05  # share: 0.05 is 5 percentage points
    out_of_range: float = 0.01  # share of current values outside the reference range
    new_categories: float = 0.01  # share of current values in unseen categories
    min_volume: float = 0.5  # share of the expected rows below which volume dropped
    critical_volume: float = 0.1  # ... and below which that is critical
    constant_min_values: int = 10  # fewer current values than this: "constant" means nothing

    def __post_init__(self) -> None:
        for name in ("null_rise", "out_of_range", "new_categories", "min_volume"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a share in [0, 1]")
        if not 0 <= self.critical_volume <= self.min_volume:
            raise ValueError("critical_volume must be in [0, min_volume]")


@dataclass(frozen=True)
class Finding:
    check: Check
    column: str | None  # None for the whole table
    level: Level
    observed: float | None  # the share or count found ...
    limit: float | None  # ... and the limit it broke
    message: str  # one line for whoever is on call
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "column": self.column,
            "level": self.level,
            "observed": self.observed,
            "limit": self.limit,
            "message": self.message,
            **({"details": self.details} if self.details else {}),
        }


@dataclass(frozen=True)
class QualityReport:
    findings: list[Finding]  # critical first
    rows: int
    expected_rows: int | None
    reference_rows: int
    columns_checked: int  # reference columns present (with a usable type) in the current data

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def critical(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "critical"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]

    @property
    def level(self) -> Level | None:
        """The worst level found, None when all is well."""
        if self.critical:
            return "critical"
        return "warning" if self.findings else None

    def for_column(self, name: str) -> list[Finding]:
        return [f for f in self.findings if f.column == name]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "level": self.level,
            "rows": self.rows,
            "expected_rows": self.expected_rows,
            "reference_rows": self.reference_rows,
            "columns_checked": self.columns_checked,
            "critical": len(self.critical),
            "warnings": len(self.warnings),
            "findings": [f.to_dict() for f in self.findings],
        }


def check_quality(
    profile: Profile,
    current: Table,
    *,
    expected_rows: int | None = None,
    options: QualityOptions = QualityOptions(),
) -> QualityReport:
    """Quality of a raw current table. Out-of-range shares are exact (from the raw values)."""
    folded: dict[str, ColumnProfile | str] = {}
    sorted_values: dict[str, Floats] = {}
    for name, reference in profile.columns.items():
        if name in current.skipped:
            folded[name] = f"unreadable now: {current.skipped[name]}"
            continue
        column = current.columns.get(name)
        if column is None:
            continue
        if _all_missing(column.kind, column.values):  # not a type change: nothing to type
            folded[name] = _empty_like(reference, len(column.values))
            continue
        if (
            reference.kind is Kind.CATEGORICAL
            and column.kind is Kind.NUMERICAL
            and not _numeric_categories(reference.sketch)
        ):
            folded[name] = "type changed: categorical in the reference, numerical now"
            continue
        prepared = conform(reference, column.kind, column.values, keep_sorted=True)
        if isinstance(prepared, str):
            folded[name] = prepared
            continue
        folded[name] = prepared.profile
        if prepared.sorted_values is not None:
            sorted_values[name] = prepared.sorted_values
    folded |= {n: "" for n in current.columns if n not in profile.columns}  # new columns
    return _check(profile, folded, current.rows, expected_rows, options, sorted_values)


def check_quality_sketches(
    profile: Profile,
    current: Mapping[str, ColumnProfile | str],
    rows: int,
    *,
    expected_rows: int | None = None,
    options: QualityOptions = QualityOptions(),
) -> QualityReport:
    """Quality of current columns already folded into the profile's sketches (streaming).

    ``current`` maps each current column to its sketch (folded with
    `firewatch.drift.profile.conform` over the reference's edges), or to the reason it could
    not be folded (what ``conform`` returns for a type change). ``rows`` is the current row
    count. Out-of-range shares below the reference minimum are estimated from the first bin
    (it also holds values equal to the minimum); those above the maximum are exact.
    """
    return _check(profile, dict(current), rows, expected_rows, options, {})


def _check(
    profile: Profile,
    current: dict[str, ColumnProfile | str],
    rows: int,
    expected_rows: int | None,
    options: QualityOptions,
    sorted_values: Mapping[str, Floats],
) -> QualityReport:
    findings: list[Finding] = []
    rows = max(int(rows), 0)
    if rows == 0:
        findings.append(
            Finding("no_rows", None, "critical", 0, None, "no rows in the current data")
        )
    elif expected_rows is not None and expected_rows > 0:
        findings += _volume(rows, expected_rows, options)
    checked = 0
    for name, reference in profile.columns.items():
        found = current.get(name)
        if found is None:
            findings.append(
                Finding(
                    "missing",
                    name,
                    "critical",
                    None,
                    None,
                    f"`{name}`: column missing from the current data",
                )
            )
            continue
        if isinstance(found, str) or found.kind is not reference.kind:
            why = found if isinstance(found, str) else _kind_change(reference.kind, found.kind)
            findings.append(
                Finding(
                    "type_changed",
                    name,
                    "critical",
                    None,
                    None,
                    f"`{name}`: {why or 'type changed'}",
                    {"reference_kind": reference.kind.value},
                )
            )
            continue
        checked += 1
        if rows:
            findings += _column(name, reference, found, sorted_values.get(name), options)
    for name in current:
        if name not in profile.columns:
            findings.append(
                Finding(
                    "new_column",
                    name,
                    "warning",
                    None,
                    None,
                    f"`{name}`: new column, not in the reference (the model never saw it)",
                )
            )
    findings.sort(key=lambda f: f.level != "critical")  # stable: critical first
    return QualityReport(findings, rows, expected_rows, profile.rows, checked)


def _volume(rows: int, expected: int, options: QualityOptions) -> list[Finding]:
    share = rows / expected
    if share >= options.min_volume:
        return []
    level: Level = "critical" if share < options.critical_volume else "warning"
    return [
        Finding(
            "volume",
            None,
            level,
            share,
            options.min_volume,
            f"only {rows:,} rows, {_pct(share)} of the {expected:,} expected",
            {"rows": rows, "expected_rows": expected},
        )
    ]


def _column(
    name: str,
    reference: ColumnProfile,
    current: ColumnProfile,
    sorted_values: Floats | None,
    options: QualityOptions,
) -> list[Finding]:
    ref, cur = reference.sketch, current.sketch
    cur_rows = cur.n + cur.nulls
    if cur_rows == 0:
        return []  # no values at all for this column (a streaming window that lacked it)
    ref_rows = ref.n + ref.nulls
    ref_null = ref.nulls / ref_rows if ref_rows else 0.0
    cur_null = cur.nulls / cur_rows
    nulls = {"reference_null_share": ref_null, "current_nulls": cur.nulls}
    if cur.n == 0:
        if ref.n == 0:
            return []  # always empty
        return [
            Finding(
                "all_null",
                name,
                "critical",
                1.0,
                None,
                f"`{name}`: every value is missing now ({cur_rows:,} rows), "
                f"{_pct(ref_null)} in the reference",
                nulls,
            )
        ]
    findings: list[Finding] = []
    if cur_null - ref_null > options.null_rise:
        findings.append(
            Finding(
                "null_rate",
                name,
                "warning",
                cur_null,
                ref_null + options.null_rise,
                f"`{name}`: {_pct(cur_null)} missing now, {_pct(ref_null)} in the reference",
                nulls,
            )
        )
    if ref.n == 0:
        return findings  # nothing to compare values with
    if isinstance(ref, NumericSketch) and isinstance(cur, NumericSketch):
        findings += _out_of_range(name, ref, cur, sorted_values, options)
        constant = cur.minimum == cur.maximum
        value = _number(cur.minimum)
    elif isinstance(ref, CategoricalSketch) and isinstance(cur, CategoricalSketch):
        findings += _new_categories(name, ref, cur, options)
        present = [c for c, n in cur.counts.items() if n > 0]
        constant = len(present) == 1 and present[0] != OTHER
        value = repr(present[0]) if present else ""
    else:
        return findings
    if constant and reference.distinct > 1 and cur.n >= options.constant_min_values:
        findings.append(
            Finding(
                "constant",
                name,
                "warning",
                1,
                None,
                f"`{name}`: every current value is {value} ({cur.n:,} values); "
                f"the reference had {reference.distinct:,} distinct values",
                {"value": value, "reference_distinct": reference.distinct},
            )
        )
    return findings


def _out_of_range(
    name: str,
    ref: NumericSketch,
    cur: NumericSketch,
    sorted_values: Floats | None,
    options: QualityOptions,
) -> list[Finding]:
    if len(ref.edges) == 0:
        return []
    low, high = float(ref.edges[0]), float(ref.edges[-1])  # the reference minimum and maximum
    exact = sorted_values is not None and len(sorted_values) == cur.n
    if sorted_values is not None and exact:
        below = int(np.searchsorted(sorted_values, low, side="left"))
        above = len(sorted_values) - int(np.searchsorted(sorted_values, high, side="right"))
    elif np.array_equal(cur.edges, ref.edges):
        below = _estimate_below(ref, cur, low)
        above = int(cur.counts[-1])
    else:
        return []  # a sketch over other edges: nothing to say
    share = (below + above) / cur.n
    if share <= options.out_of_range:
        return []
    parts = []
    if below:
        parts.append(f"{_pct(below / cur.n)} below {_number(low)}")
    if above:
        parts.append(f"{_pct(above / cur.n)} above {_number(high)}")
    return [
        Finding(
            "out_of_range",
            name,
            "warning",
            share,
            options.out_of_range,
            f"`{name}`: {_pct(share)} of values outside the reference range "
            f"[{_number(low)}, {_number(high)}] ({', '.join(parts)}); "
            f"now from {_number(cur.minimum)} to {_number(cur.maximum)}",
            {
                "below": below,
                "above": above,
                "reference_min": low,
                "reference_max": high,
                "current_min": _finite(cur.minimum),
                "current_max": _finite(cur.maximum),
                "exact": exact,
            },
        )
    ]


def _estimate_below(ref: NumericSketch, cur: NumericSketch, low: float) -> int:
    """Current values below the reference minimum, from the first bin (values ≤ it).

    The bin also holds values equal to the minimum: as many, we assume, as the reference's
    share there (a column with many zeros) allows, up to two binomial standard deviations
    more — so that chance alone does not make an out-of-range finding — but no fewer values
    below than the bin's sum implies (each is at most ``low - current minimum`` below), and
    at least one when the current minimum is lower."""
    first = int(cur.counts[0])
    if first == 0 or not cur.minimum < low:
        return 0
    gap = low - cur.minimum
    deficit = max(first * low - float(cur.sums[0]), 0.0)  # sum of (low - v) over values below
    at_least = max(1, min(first, math.ceil(deficit / gap - 1e-9)))
    share = ref.counts[0] / ref.n if ref.n else 0.0
    ties = share * cur.n + 2.0 * math.sqrt(share * (1.0 - share) * cur.n)
    return int(min(first, max(at_least, math.floor(first - ties))))


def _new_categories(
    name: str, ref: CategoricalSketch, cur: CategoricalSketch, options: QualityOptions
) -> list[Finding]:
    if OTHER in ref.counts:
        return []  # the reference's rare categories were not kept: "new" cannot be told
    new = {c: n for c, n in cur.counts.items() if c not in ref.counts and n > 0}
    unseen = sum(new.values())
    share = unseen / cur.n if cur.n else 0.0
    if share <= options.new_categories:
        return []
    examples = [c for c, _ in sorted(new.items(), key=lambda item: (-item[1], item[0]))]
    shown = ", ".join(repr(c) for c in examples[:5] if c != OTHER)
    more = len(examples) - 5
    return [
        Finding(
            "new_category",
            name,
            "warning",
            share,
            options.new_categories,
            f"`{name}`: {_pct(share)} of values are categories the reference never saw "
            f"({shown}{f' and {more:,} more' if more > 0 else ''})",
            {"new_categories": examples[:20], "count": len(examples)},
        )
    ]


def _all_missing(kind: Kind, values: Any) -> bool:
    if kind is Kind.NUMERICAL:
        return bool(np.isnan(np.asarray(values, dtype=np.float64)).all())
    return all(v is None or (isinstance(v, float) and v != v) for v in values)


def _empty_like(reference: ColumnProfile, rows: int) -> ColumnProfile:
    sketch: NumericSketch | CategoricalSketch
    if isinstance(reference.sketch, NumericSketch):
        sketch = NumericSketch.empty(reference.sketch.edges)
        sketch.nulls = rows
    else:
        sketch = CategoricalSketch({}, rows)
    return ColumnProfile(reference.kind, sketch, 0)


def _numeric_categories(sketch: NumericSketch | CategoricalSketch) -> bool:
    """A categorical reference column whose categories are all numbers (a low-cardinality
    numerical column, profiled as categorical)."""
    if not isinstance(sketch, CategoricalSketch):
        return False
    try:
        for category in sketch.counts:
            float(category)
    except ValueError:
        return False
    return True


def _kind_change(reference: Kind, current: Kind) -> str:
    return f"type changed: {reference.value} in the reference, {current.value} now"


def _pct(share: float) -> str:
    if 0 < share < 0.001:
        return "<0.1%"
    if 0.999 < share < 1:
        return ">99.9%"
    return f"{share:.1%}"


def _number(value: float) -> str:
    if not math.isfinite(value):
        return "none"
    return f"{value:.6g}"


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
