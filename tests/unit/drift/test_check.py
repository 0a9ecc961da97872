"""Column and dataset verdicts, exact (`check_tables`) and from a profile (`check_profile`):
the default test per column, and data that must give an explicit status, never an exception
(missing values, constant columns, unseen categories, empty windows, mismatched schemas)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from firewatch.drift import (
    ColumnDrift,
    DataError,
    DriftOptions,
    DriftReport,
    Table,
    build_profile,
    check_profile,
    check_tables,
    read_table,
)
from firewatch.drift.stattests.base import Kind

Check = Callable[[Table, Table, DriftOptions], DriftReport]


def exact(reference: Table, current: Table, options: DriftOptions) -> DriftReport:
    return check_tables(reference, current, options)


def profiled(reference: Table, current: Table, options: DriftOptions) -> DriftReport:
    return check_profile(build_profile(reference), current, options)


BOTH = pytest.mark.parametrize("check", [exact, profiled], ids=["exact", "profile"])


def run(
    check: Check, reference: dict[str, Any], current: dict[str, Any], **options: Any
) -> dict[str, ColumnDrift]:
    report = check(
        Table.from_mapping(reference), Table.from_mapping(current), DriftOptions(**options)
    )
    json.dumps(report.to_dict(), allow_nan=False)  # every report is plain JSON
    return {column.name: column for column in report.columns}


def normal(n: int, shift: float = 0.0, seed: int = 0) -> Any:
    return np.random.default_rng(seed).normal(shift, 1.0, size=n)


# --- the default test --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "test"),
    [
        (normal(1000), "ks"),
        (normal(1001), "wasserstein"),
        (["a", "b"] * 500, "z"),
        (["a", "b", "c", "d"] * 250, "chi_squared"),
        (["a", "b"] * 501, "jensen_shannon"),
        (["a", "b", "c"] * 400, "jensen_shannon"),
        ([1.0, 2.0] * 500, "z"),  # two numbers: categorical
        ([1.0, 2.0, 3.0, 4.0, 5.0] * 200, "chi_squared"),
        ([1.0, 2.0, 3.0, 4.0, 5.0] * 300, "jensen_shannon"),
        ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0] * 100, "ks"),  # six values: numerical
    ],
)
@BOTH
def test_default_test_per_column_type_and_size(check: Check, values: Any, test: str) -> None:
    column = run(check, {"x": values}, {"x": values})["x"]
    assert column.status == "tested"
    assert column.result is not None and column.result.test == test
    assert not column.drifted


@BOTH
def test_one_test_for_all_columns_applies_where_it_can(check: Check) -> None:
    reference = {"n": normal(300), "c": ["a", "b", "c"] * 100}
    current = {"n": normal(150, seed=1), "c": ["a", "b", "c"] * 50}
    columns = run(check, reference, current, test="psi")
    assert {n: c.result.test for n, c in columns.items() if c.result} == {"n": "psi", "c": "psi"}
    columns = run(check, reference, current, test="ks")  # ks cannot test categories
    tests = {n: c.result.test for n, c in columns.items() if c.result}
    assert tests == {"n": "ks", "c": "chi_squared"}


@BOTH
def test_a_test_named_for_a_column_it_cannot_test_is_explained(check: Check) -> None:
    column = run(check, {"c": ["a", "b"] * 10}, {"c": ["a", "b"] * 10}, column_tests={"c": "ks"})[
        "c"
    ]
    assert column.status == "type_changed"
    assert column.result is None
    assert "ks does not test categorical columns" in column.message


def test_options_are_checked() -> None:
    with pytest.raises(
        ValueError, match=r"unknown drift test 'nope' \(known: chi_squared, .*wasserstein"
    ):
        DriftOptions(test="nope")
    with pytest.raises(ValueError, match="unknown drift test 'kss'"):
        DriftOptions(column_tests={"x": "kss"})
    for share in (0.0, 1.5):
        with pytest.raises(ValueError, match="drift_share"):
            DriftOptions(drift_share=share)


@BOTH
def test_a_threshold_overrides_the_default(check: Check) -> None:
    reference, current = {"x": normal(5000)}, {"x": normal(5000, shift=0.3)}
    assert run(check, reference, current)["x"].drifted  # wasserstein ≈ 0.3 ≥ 0.1
    column = run(check, reference, current, threshold=0.5)["x"]
    assert column.result is not None and column.result.threshold == 0.5
    assert not column.drifted


# --- missing values ----------------------------------------------------------------------------


@BOTH
def test_missing_values_are_left_out_and_counted(check: Check) -> None:
    ref = normal(800)
    cur = normal(600, shift=0.2, seed=1)
    ref_with_nulls = ref.copy()
    ref_with_nulls[::10] = math.nan
    cur_with_nulls: list[Any] = [None if i % 3 == 0 else v for i, v in enumerate(cur.tolist())]
    columns = run(
        check,
        {"x": ref_with_nulls, "c": ["a", None, "b", math.nan] * 200},
        {"x": cur_with_nulls, "c": ["a", "b", None] * 200},
    )
    x = columns["x"]
    assert (x.reference_rows, x.reference_nulls, x.current_rows, x.current_nulls) == (
        720,
        80,
        400,
        200,
    )
    assert x.result is not None and x.result.test == "ks"
    kept_ref = ref_with_nulls[~np.isnan(ref_with_nulls)]
    kept_cur = np.array([v for v in cur_with_nulls if v is not None])
    expected = stats.ks_2samp(kept_ref, kept_cur)
    if x.result.exact:
        assert x.result.statistic == pytest.approx(expected.statistic)
        assert x.result.p_value == pytest.approx(expected.pvalue)
    else:
        assert x.result.low <= expected.statistic <= x.result.high + 1e-12
    c = columns["c"]
    assert (c.reference_rows, c.reference_nulls, c.current_rows, c.current_nulls) == (
        400,
        400,
        400,
        200,
    )
    assert c.result is not None and c.result.test == "z"
    assert not c.drifted  # a/b half and half on both sides: the nulls do not count


@BOTH
def test_an_all_null_column_is_reported(check: Check) -> None:
    columns = run(
        check,
        {"x": normal(100), "c": ["a", "b"] * 50, "gone": [None] * 100},
        {"x": [math.nan] * 7, "c": [None] * 7, "gone": [1.0] * 7},
    )
    assert {n: c.status for n, c in columns.items()} == {
        "x": "all_null",
        "c": "all_null",
        "gone": "all_null",
    }
    assert columns["x"].current_nulls == 7
    assert "current" in columns["x"].message and "reference" in columns["gone"].message
    assert not any(c.drifted for c in columns.values())


@BOTH
def test_an_all_none_current_column_of_a_numerical_reference_is_all_null(check: Check) -> None:
    # [None] * 7 is an object column (categorical): with no value, it has no type to change.
    column = run(check, {"x": normal(100)}, {"x": [None] * 7})["x"]
    assert (column.status, column.current_nulls) == ("all_null", 7)


# --- empty windows -----------------------------------------------------------------------------


@BOTH
@pytest.mark.parametrize("empty", [[], np.array([], dtype=object)], ids=["float", "object"])
def test_an_empty_current_table_is_reported_not_raised(check: Check, empty: Any) -> None:
    reference = {
        "large": normal(2000),
        "small": normal(30),
        "c": ["a", "b", "c"] * 10,
        "stars": [1.0, 2.0] * 15,
    }
    report = check(
        Table.from_mapping({k: v for k, v in reference.items() if k != "large"}),
        Table.from_mapping({k: empty for k in reference if k != "large"}),
        DriftOptions(),
    )
    assert {c.name: c.status for c in report.columns} == dict.fromkeys(
        ("small", "c", "stars"), "empty"
    )
    assert all(c.message == "no current values" for c in report.columns)
    assert not report.dataset_drift and report.share == 0.0 and report.current_rows == 0
    column = run(check, {"large": reference["large"]}, {"large": empty})["large"]
    assert (column.status, column.current_rows, column.current_nulls) == ("empty", 0, 0)


def test_an_empty_reference_is_a_data_error() -> None:
    with pytest.raises(DataError, match="no rows"):
        check_tables(Table.from_mapping({"x": []}), Table.from_mapping({"x": [1.0]}))


# --- constant columns --------------------------------------------------------------------------


@BOTH
@pytest.mark.parametrize("n", [300, 3000])
def test_constant_columns(check: Check, n: int) -> None:
    columns = run(
        check,
        {"same": [4.0] * n, "moved": [4.0] * n, "spread": normal(n), "flat": [4.0] * n},
        {"same": [4.0] * 100, "moved": [5.0] * 100, "spread": [0.0] * 100, "flat": normal(100)},
    )
    assert all(c.status == "tested" for c in columns.values())
    same, moved, spread, flat = (columns[k] for k in ("same", "moved", "spread", "flat"))
    assert same.kind is Kind.CATEGORICAL and not same.drifted
    assert moved.drifted and moved.new_categories == ("5",)
    assert spread.kind is Kind.NUMERICAL and spread.drifted  # everything at the median
    assert flat.drifted and len(flat.new_categories) == 100
    assert flat.message.startswith("new categories: ") and flat.message.endswith("…")
    for column in columns.values():
        assert column.result is not None and math.isfinite(column.result.statistic)


@BOTH
def test_a_constant_reference_of_many_values_is_normed_by_the_floor(check: Check) -> None:
    # six distinct values, almost all one of them: numerical, std ≈ 0.08
    reference = [0.0] * 2000 + [1.0, 2.0, 3.0, 4.0, 5.0]
    column = run(check, {"x": reference}, {"x": [0.0] * 1000})["x"]
    assert column.kind is Kind.NUMERICAL
    assert column.result is not None and column.result.test == "wasserstein"
    assert math.isfinite(column.result.statistic)


@BOTH
def test_infinite_values_are_counted_as_missing(check: Check) -> None:
    reference = normal(3000)
    reference[:3] = math.inf
    reference[3] = -math.inf
    column = run(check, {"x": reference}, {"x": normal(3000, seed=1)})["x"]
    assert column.result is not None and math.isfinite(column.result.statistic)
    assert column.reference_nulls == 4 and not column.drifted


# --- categories --------------------------------------------------------------------------------


@BOTH
@pytest.mark.parametrize("n", [300, 3000])
def test_unseen_categories_are_named_and_still_tested(check: Check, n: int) -> None:
    reference = ["a", "b", "c"] * (n // 3)
    steady = ["a", "b", "c"] * 95 + ["d"] * 10 + ["e"] * 5
    flood = ["a", "b", "c"] * 20 + ["d"] * 240
    columns = run(
        check, {"steady": reference, "flood": reference}, {"steady": steady, "flood": flood}
    )
    for column in columns.values():
        assert column.status == "tested" and column.result is not None
        assert math.isfinite(column.result.statistic)
    assert columns["steady"].new_categories == ("d", "e")
    assert columns["steady"].message == "new categories: d, e"
    assert columns["flood"].new_categories == ("d",)
    assert columns["flood"].drifted


@BOTH
def test_numbers_of_a_low_cardinality_reference_are_categories(check: Check) -> None:
    columns = run(check, {"stars": [1, 2, 3, 4, 5] * 100}, {"stars": [1, 2, 3, 4, 5, 6.0] * 50})
    stars = columns["stars"]
    assert stars.kind is Kind.CATEGORICAL
    assert stars.result is not None and stars.result.test == "chi_squared"
    assert stars.new_categories == ("6",)


# --- mismatched schemas ------------------------------------------------------------------------


@BOTH
def test_mismatched_schemas_are_reported(check: Check) -> None:
    report = check(
        Table.from_mapping(
            {
                "kept": normal(400),
                "dropped": normal(400),
                "retyped": normal(400),
                "code": ["x", "y"] * 200,
            }
        ),
        Table.from_mapping(
            {
                "kept": normal(300, seed=1),
                "retyped": ["high", "low", None] * 100,
                "code": [1.0, 2.0] * 150,  # numbers where the reference had text: categories
                "added": normal(300),
            }
        ),
        DriftOptions(),
    )
    statuses = {c.name: c.status for c in report.columns}
    assert statuses == {
        "kept": "tested",
        "dropped": "missing",
        "retyped": "type_changed",
        "code": "tested",
        "added": "new",
    }
    by_name = {c.name: c for c in report.columns}
    assert by_name["dropped"].message == "not in the current data"
    assert by_name["added"].message == "not in the reference"
    assert "numerical in the reference" in by_name["retyped"].message
    assert by_name["code"].new_categories == ("1", "2")
    assert len(report.tested) == 2
    json.dumps(report.to_dict(), allow_nan=False)


def test_files_with_mismatched_schemas(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    reference = tmp_path / "reference.csv"
    lines = ["amount,country,score"] + [
        f"{rng.lognormal():.4f},{rng.choice(['de', 'fr'])},{rng.normal():.4f}" for _ in range(400)
    ]
    reference.write_text("\n".join(lines) + "\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("amount,country,extra\n")
    retyped = tmp_path / "retyped.csv"
    retyped.write_text("amount,country\nlots,de\nfew,fr\n")
    ref = read_table(reference)
    report = check_tables(ref, read_table(empty))
    assert {c.name: c.status for c in report.columns} == {
        "amount": "empty",
        "country": "empty",
        "score": "missing",
        "extra": "new",
    }
    report = check_profile(build_profile(ref), read_table(retyped))
    assert {c.name: c.status for c in report.columns} == {
        "amount": "type_changed",
        "country": "tested",
        "score": "missing",
    }


# --- dataset drift -----------------------------------------------------------------------------


def four_columns(shifted: int) -> tuple[Table, Table]:
    reference = {f"c{i}": normal(3000, seed=i) for i in range(4)}
    current = {
        f"c{i}": normal(3000, shift=1.0 if i < shifted else 0.0, seed=10 + i) for i in range(4)
    }
    current["added"] = normal(3000)
    return Table.from_mapping(reference | {"dropped": normal(3000)}), Table.from_mapping(current)


@BOTH
@pytest.mark.parametrize(
    ("shifted", "dataset_drift"), [(0, False), (1, False), (2, True), (4, True)]
)
def test_dataset_drift_when_half_the_tested_columns_drift(
    check: Check, shifted: int, dataset_drift: bool
) -> None:
    report = check(*four_columns(shifted), DriftOptions())
    assert len(report.tested) == 4  # the missing and the new column are not counted
    assert len(report.drifted) == shifted
    assert report.share == shifted / 4
    assert report.dataset_drift is dataset_drift
    summary = report.to_dict()
    assert (summary["drifted_columns"], summary["tested_columns"], summary["dataset_drift"]) == (
        shifted,
        4,
        dataset_drift,
    )


@BOTH
def test_the_drift_share_is_an_option(check: Check) -> None:
    report = check(*four_columns(1), DriftOptions(drift_share=0.25))
    assert report.dataset_drift
    assert report.drift_share == 0.25


@BOTH
def test_no_tested_column_is_no_dataset_drift(check: Check) -> None:
    report = check(
        Table.from_mapping({"a": normal(10)}), Table.from_mapping({"b": normal(10)}), DriftOptions()
    )
    assert not report.tested and report.share == 0.0 and not report.dataset_drift


def test_exact_and_profile_reports_say_which_they_are() -> None:
    reference, current = four_columns(2)
    assert check_tables(reference, current).exact
    profile = check_profile(build_profile(reference), current)
    assert not profile.exact
    results = [c.result for c in profile.columns if c.result is not None]
    assert all(r.low <= r.statistic <= r.high for r in results)
    # unshifted: the CDFs cross inside bins, so the Wasserstein bounds are a band; shifted by
    # a whole σ they never cross and the bounds coincide (the result is exact from the profile)
    assert [r.exact for r in results] == [True, True, False, False]


def test_progress_names_every_column() -> None:
    reference, current = four_columns(0)
    seen: list[str] = []
    check_tables(reference, current, progress=seen.append)
    assert sorted(seen) == sorted(reference.columns)
