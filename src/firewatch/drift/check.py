"""Column-by-column drift between a reference and a current table, and dataset drift.

Default test per column (Evidently 0.7's choice, so verdicts can be compared with it):

===================================== ======================= =========================
column                                reference ≤ 1,000 values reference > 1,000 values
===================================== ======================= =========================
numerical, more than 5 distinct values ``ks`` (p < 0.05)       ``wasserstein`` (≥ 0.1)
two categories                        ``z`` (p < 0.05)         ``jensen_shannon`` (≥ 0.1)
three or more categories              ``chi_squared`` (p < 0.05) ``jensen_shannon`` (≥ 0.1)
===================================== ======================= =========================

Small samples get hypothesis tests; large ones get distances with a practical threshold,
because with a million values a p-value flags shifts far too small to matter. A numerical column
with at most 5 distinct values is treated as categorical. The dataset has drifted when the share
of drifted columns reaches ``drift_share`` (0.5).

Nothing about the data raises: a column missing from either side, a type change, an all-null or
empty current column gets a status and a message instead of a test result.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from firewatch.drift.data import DataError, Table
from firewatch.drift.profile import (
    ColumnProfile,
    PreparedColumn,
    Profile,
    conform,
    profile_column,
)
from firewatch.drift.sketch import DEFAULT_BINS, CategoricalSketch, NumericSketch
from firewatch.drift.stattests import get
from firewatch.drift.stattests.base import Kind, StatTest, TestResult

SMALL_REFERENCE = 1000
DRIFT_SHARE = 0.5

Status = Literal["tested", "empty", "all_null", "missing", "new", "type_changed"]


@dataclass(frozen=True)
class DriftOptions:
    test: str | None = None  # one test for every column it applies to; default: per column
    column_tests: Mapping[str, str] = field(default_factory=dict)
    threshold: float | None = None  # overrides the default of `test` (of every test without one)
    drift_share: float = DRIFT_SHARE

    def __post_init__(self) -> None:
        for name in [self.test, *self.column_tests.values()]:
            if name is not None:
                get(name)  # raises ValueError naming the known tests
        if not 0 < self.drift_share <= 1:
            raise ValueError("drift_share must be in (0, 1]")


@dataclass(frozen=True)
class ColumnDrift:
    name: str
    status: Status
    kind: Kind | None = None
    result: TestResult | None = None
    reference_rows: int = 0
    current_rows: int = 0
    reference_nulls: int = 0
    current_nulls: int = 0
    new_categories: tuple[str, ...] = ()
    message: str = ""

    @property
    def drifted(self) -> bool:
        return self.result is not None and self.result.drifted

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.name,
            "status": self.status,
            "kind": self.kind.value if self.kind else None,
            "drifted": self.drifted,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "reference_nulls": self.reference_nulls,
            "current_nulls": self.current_nulls,
            "new_categories": list(self.new_categories),
            "message": self.message,
            "result": self.result.to_dict() if self.result else None,
        }


@dataclass(frozen=True)
class DriftReport:
    columns: list[ColumnDrift]
    drift_share: float
    reference_rows: int
    current_rows: int
    exact: bool  # from raw reference values; otherwise from a profile

    @property
    def tested(self) -> list[ColumnDrift]:
        return [c for c in self.columns if c.status == "tested"]

    @property
    def drifted(self) -> list[ColumnDrift]:
        return [c for c in self.columns if c.drifted]

    @property
    def share(self) -> float:
        tested = len(self.tested)
        return len(self.drifted) / tested if tested else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.tested) and self.share >= self.drift_share

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_drift": self.dataset_drift,
            "drifted_columns": len(self.drifted),
            "tested_columns": len(self.tested),
            "share": self.share,
            "drift_share": self.drift_share,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "exact": self.exact,
            "columns": [c.to_dict() for c in self.columns],
        }


def default_test(profile: ColumnProfile) -> StatTest:
    small = profile.sketch.n <= SMALL_REFERENCE
    if profile.kind is Kind.NUMERICAL:
        return get("ks" if small else "wasserstein")
    if not small:
        return get("jensen_shannon")
    return get("z" if profile.distinct <= 2 else "chi_squared")


def compare(
    name: str,
    reference: PreparedColumn,
    current: PreparedColumn | str,
    options: DriftOptions = DriftOptions(),
) -> ColumnDrift:
    """One column's verdict."""
    ref = reference.profile
    base: dict[str, Any] = {
        "name": name,
        "kind": ref.kind,
        "reference_rows": ref.sketch.n,
        "reference_nulls": ref.sketch.nulls,
    }
    if isinstance(current, str):
        return ColumnDrift(status="type_changed", message=current, **base)
    cur = current.profile
    base |= {"current_rows": cur.sketch.n, "current_nulls": cur.sketch.nulls}
    if cur.sketch.n + cur.sketch.nulls == 0:
        return ColumnDrift(status="empty", message="no current values", **base)
    if cur.sketch.n == 0:
        return ColumnDrift(status="all_null", message="every current value is missing", **base)
    if ref.sketch.n == 0:
        return ColumnDrift(status="all_null", message="every reference value is missing", **base)
    test = _test_for(name, ref, options)
    if isinstance(test, str):
        return ColumnDrift(status="type_changed", message=test, **base)
    new: tuple[str, ...] = ()
    if isinstance(ref.sketch, CategoricalSketch):
        assert isinstance(cur.sketch, CategoricalSketch)
        new = tuple(c for c in cur.sketch.counts if c not in ref.sketch.counts)
        estimate = test.categorical(ref.sketch, cur.sketch)
    else:
        assert isinstance(cur.sketch, NumericSketch)
        estimate = test.numerical(
            ref.sketch, cur.sketch, reference.sorted_values, current.sorted_values
        )
    threshold = test.threshold
    if options.threshold is not None and options.test in (None, test.name):
        threshold = options.threshold  # a threshold given with a test is that test's
    result = test.judge(estimate, threshold, ref.sketch.n, cur.sketch.n)
    message = f"new categories: {', '.join(new[:5])}{' …' if len(new) > 5 else ''}" if new else ""
    return ColumnDrift(status="tested", result=result, new_categories=new, message=message, **base)


def _test_for(name: str, profile: ColumnProfile, options: DriftOptions) -> StatTest | str:
    chosen = options.column_tests.get(name) or options.test
    if chosen is None:
        return default_test(profile)
    test = get(chosen)
    if profile.kind in test.kinds:
        return test
    if name in options.column_tests:
        return f"{test.name} does not test {profile.kind.value} columns"
    return default_test(profile)  # a test chosen for all columns applies where it can


def _missing(name: str, where: Literal["missing", "new"]) -> ColumnDrift:
    message = "not in the current data" if where == "missing" else "not in the reference"
    return ColumnDrift(name=name, status=where, message=message)


def _run(
    names: Iterable[str],
    one: Callable[[str], ColumnDrift],
    progress: Callable[[str], None] | None,
) -> list[ColumnDrift]:
    """Columns in parallel: sorting and binning are numpy work that releases the GIL."""
    workers = min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers, thread_name_prefix="drift") as pool:
        results = []
        for result in pool.map(one, names):
            results.append(result)
            if progress:
                progress(result.name)
    return results


def check_tables(
    reference: Table,
    current: Table,
    options: DriftOptions = DriftOptions(),
    *,
    bins: int = DEFAULT_BINS,
    progress: Callable[[str], None] | None = None,
) -> DriftReport:
    """Exact: every statistic from the raw values of both tables."""
    if reference.rows == 0:
        raise DataError("the reference has no rows")

    def one(name: str) -> ColumnDrift:
        if name not in current.columns:
            return _missing(name, "missing")
        column = reference.columns[name]
        prepared = profile_column(column.kind, column.values, bins, keep_sorted=True)
        found = current.columns[name]
        cur = conform(prepared.profile, found.kind, found.values, keep_sorted=True)
        return compare(name, prepared, cur, options)

    results = _run(reference.columns, one, progress)
    results += [_missing(n, "new") for n in current.columns if n not in reference.columns]
    return DriftReport(results, options.drift_share, reference.rows, current.rows, exact=True)


def check_profile(
    profile: Profile,
    current: Table,
    options: DriftOptions = DriftOptions(),
    *,
    progress: Callable[[str], None] | None = None,
) -> DriftReport:
    """Against a stored profile: the current table is folded into the profile's bins."""

    def one(name: str) -> ColumnDrift:
        column = profile.columns[name]
        if name not in current.columns:
            return _missing(name, "missing")
        found = current.columns[name]
        cur = conform(column, found.kind, found.values)
        return compare(name, PreparedColumn(column), cur, options)

    results = _run(profile.columns, one, progress)
    results += [_missing(n, "new") for n in current.columns if n not in profile.columns]
    return DriftReport(results, options.drift_share, profile.rows, current.rows, exact=False)


def check_sketches(
    profile: Profile,
    current: Mapping[str, ColumnProfile],
    rows: int,
    options: DriftOptions = DriftOptions(),
) -> DriftReport:
    """Against a profile, for current columns already folded into sketches (streaming)."""
    results = []
    for name, column in profile.columns.items():
        found = current.get(name)
        if found is None:
            results.append(_missing(name, "missing"))
        else:
            results.append(compare(name, PreparedColumn(column), PreparedColumn(found), options))
    results += [_missing(n, "new") for n in current if n not in profile.columns]
    return DriftReport(results, options.drift_share, profile.rows, rows, exact=False)
