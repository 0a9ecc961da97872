"""Data-quality checks of current data against a reference profile."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from firewatch.drift import Profile, Table, build_profile
from firewatch.drift.profile import ColumnProfile, conform
from firewatch.drift.quality import (
    Finding,
    QualityOptions,
    QualityReport,
    check_quality,
    check_quality_sketches,
)
from firewatch.drift.sketch import NumericSketch


def reference_table(rows: int = 2000, seed: int = 0) -> Table:
    rng = np.random.default_rng(seed)
    age = rng.uniform(18, 90, rows)
    age[:2] = np.nan  # 0.1% missing
    income = rng.exponential(1000.0, rows)
    income[rng.random(rows) < 0.3] = 0.0  # many values at the minimum
    return Table.from_mapping(
        {
            "age": age,
            "income": income,
            "plan": rng.choice(["free", "pro", "team"], rows).astype(object),
            "flag": rng.choice([0.0, 1.0], rows),  # low cardinality: profiled as categorical
        }
    )


@pytest.fixture(scope="module")
def profile() -> Profile:
    return build_profile(reference_table(), bins=100)


def current_data(rows: int = 1000, seed: int = 1, **changes: Any) -> dict[str, Any]:
    table = reference_table(rows, seed)
    data: dict[str, Any] = {name: column.values.copy() for name, column in table.columns.items()}
    data.update(changes)
    return data


def both(
    profile: Profile, data: dict[str, Any], **kwargs: Any
) -> tuple[QualityReport, QualityReport]:
    """The report from the raw table and from the sketches it folds into (streaming)."""
    table = Table.from_mapping(data)
    raw = check_quality(profile, table, **kwargs)
    folded: dict[str, ColumnProfile | str] = {}
    for name, column in table.columns.items():
        if name in profile.columns:
            prepared = conform(profile.columns[name], column.kind, column.values)
            folded[name] = prepared if isinstance(prepared, str) else prepared.profile
        else:
            folded[name] = "not in the reference"
    streamed = check_quality_sketches(profile, folded, table.rows, **kwargs)
    json.dumps(raw.to_dict())
    json.dumps(streamed.to_dict())
    return raw, streamed


def only(report: QualityReport, check: str) -> Finding:
    found = [f for f in report.findings if f.check == check]
    assert len(found) == 1, report.findings
    return found[0]


def test_clean_data_has_no_findings(profile: Profile) -> None:
    for report in both(profile, current_data(), expected_rows=1200):
        assert report.ok, report.findings
        assert report.level is None
        assert report.columns_checked == 4
        assert report.to_dict()["findings"] == []


def test_null_rate_rise(profile: Profile) -> None:
    data = current_data()
    age = data["age"]
    age[: int(0.234 * len(age))] = np.nan
    for report in both(profile, data):
        finding = only(report, "null_rate")
        assert finding.column == "age"
        assert finding.level == "warning"
        assert finding.observed == pytest.approx(0.234)
        assert finding.limit == pytest.approx(0.001 + 0.05)
        assert finding.message == "`age`: 23.4% missing now, 0.1% in the reference"


def test_small_null_rise_within_the_limit_and_configurable(profile: Profile) -> None:
    data = current_data()
    data["age"][:40] = np.nan  # 4% missing
    assert check_quality(profile, Table.from_mapping(data)).ok
    strict = check_quality(
        profile, Table.from_mapping(data), options=QualityOptions(null_rise=0.02)
    )
    assert only(strict, "null_rate").column == "age"


def test_all_null_column_is_critical(profile: Profile) -> None:
    for values in (np.full(1000, np.nan), [None] * 1000):  # numbers, or untyped Nones
        for report in both(profile, current_data(age=values)):
            finding = only(report, "all_null")
            assert (finding.column, finding.level) == ("age", "critical")
            assert finding.message == (
                "`age`: every value is missing now (1,000 rows), 0.1% in the reference"
            )
            assert report.level == "critical"
            assert report.findings[0] is finding  # critical first


def test_all_null_categorical(profile: Profile) -> None:
    for report in both(profile, current_data(plan=[None] * 1000)):
        assert only(report, "all_null").column == "plan"


def test_out_of_range_values(profile: Profile) -> None:
    data = current_data()
    data["age"][:30] = 150.0  # 3% above the maximum
    data["age"][30:50] = -1.0  # 2% below the minimum
    raw, streamed = both(profile, data)
    for report in (raw, streamed):
        finding = only(report, "out_of_range")
        assert finding.column == "age"
        assert finding.observed == pytest.approx(0.05)
        assert finding.limit == 0.01
        assert finding.details["above"] == 30
        assert finding.details["below"] == 20
        assert "5.0% of values outside the reference range [18" in finding.message
        assert "3.0% above" in finding.message and "2.0% below" in finding.message
        assert "now from -1 to 150" in finding.message
    assert only(raw, "out_of_range").details["exact"] is True
    assert only(streamed, "out_of_range").details["exact"] is False


def test_values_at_a_heavy_minimum_are_not_out_of_range(profile: Profile) -> None:
    # 30% of incomes are 0, the reference minimum: the first bin is full of them.
    for report in both(profile, current_data()):
        assert report.for_column("income") == []
    data = current_data()
    data["income"][:20] = -5.0  # 2% below now
    for report in both(profile, data):
        finding = only(report, "out_of_range")
        assert finding.column == "income"
        assert 20 <= finding.details["below"] <= 30


def test_a_few_out_of_range_values_are_tolerated(profile: Profile) -> None:
    data = current_data()
    data["age"][:5] = 200.0  # 0.5%
    for report in both(profile, data):
        assert report.ok, report.findings


def test_unseen_categories(profile: Profile) -> None:
    plan = np.array(["free"] * 900 + ["enterprise"] * 60 + ["trial"] * 40, dtype=object)
    for report in both(profile, current_data(plan=plan)):
        finding = only(report, "new_category")
        assert finding.column == "plan"
        assert finding.observed == pytest.approx(0.1)
        assert finding.details["new_categories"] == ["enterprise", "trial"]
        assert finding.message == (
            "`plan`: 10.0% of values are categories the reference never saw ('enterprise', 'trial')"
        )


def test_new_value_in_a_low_cardinality_number_column(profile: Profile) -> None:
    flag = np.array([0.0, 1.0, 2.0, 3.0] * 250)
    for report in both(profile, current_data(flag=flag)):
        assert only(report, "new_category").details["new_categories"] == ["2", "3"]


def test_constant_columns(profile: Profile) -> None:
    data = current_data(plan=np.array(["free"] * 1000, dtype=object), age=np.full(1000, 42.0))
    for report in both(profile, data):
        constant = {f.column: f for f in report.findings if f.check == "constant"}
        assert set(constant) == {"age", "plan"}
        assert constant["plan"].message == (
            "`plan`: every current value is 'free' (1,000 values); "
            "the reference had 3 distinct values"
        )
        assert constant["age"].message.startswith("`age`: every current value is 42 ")


def test_constant_needs_enough_values(profile: Profile) -> None:
    data = current_data(rows=5)
    data["plan"] = np.array(["free"] * 5, dtype=object)
    report = check_quality(profile, Table.from_mapping(data))
    assert [f for f in report.findings if f.check == "constant"] == []


def test_schema_missing_new_and_type_changed(profile: Profile) -> None:
    data = current_data()
    del data["income"]
    data["score"] = np.zeros(1000)
    data["age"] = np.array(["young", "old"] * 500, dtype=object)
    data["plan"] = np.arange(1000.0)
    raw, streamed = both(profile, data)
    for report in (raw, streamed):
        missing = only(report, "missing")
        assert (missing.column, missing.level) == ("income", "critical")
        assert missing.message == "`income`: column missing from the current data"
        new = only(report, "new_column")
        assert (new.column, new.level) == ("score", "warning")
        assert new.message.startswith("`score`: new column, not in the reference")
    changed = {f.column: f for f in raw.findings if f.check == "type_changed"}
    assert set(changed) == {"age", "plan"}
    assert all(f.level == "critical" for f in changed.values())
    assert changed["age"].message == (
        "`age`: type changed: numerical in the reference, categorical now"
    )
    assert changed["plan"].message == (
        "`plan`: type changed: categorical in the reference, numerical now"
    )
    assert raw.columns_checked == 1  # flag
    # Folded by conform, numbers in a categorical column are categories: all of them new.
    assert only(streamed, "type_changed").column == "age"
    assert only(streamed, "new_category").observed == 1.0


def test_sketch_of_another_kind_is_a_type_change(profile: Profile) -> None:
    plan = ColumnProfile(profile.columns["age"].kind, profile.columns["age"].sketch, 10)
    report = check_quality_sketches(profile, {"plan": plan}, 10)
    changed = only(report, "type_changed")
    assert changed.message == "`plan`: type changed: categorical in the reference, numerical now"


def test_empty_current(profile: Profile) -> None:
    for report in both(profile, current_data(rows=0), expected_rows=1000):
        assert [f.check for f in report.findings] == ["no_rows"]
        assert report.findings[0].message == "no rows in the current data"
        assert report.level == "critical"
    empty = check_quality(profile, Table({}, 0))
    assert only(empty, "no_rows").level == "critical"
    assert len([f for f in empty.findings if f.check == "missing"]) == 4
    assert check_quality_sketches(profile, {}, 0).to_dict()["critical"] == 5


def test_volume_drop(profile: Profile) -> None:
    data = current_data(rows=400)
    report = check_quality(profile, Table.from_mapping(data), expected_rows=1000)
    finding = only(report, "volume")
    assert (finding.level, finding.observed, finding.limit) == ("warning", 0.4, 0.5)
    assert finding.message == "only 400 rows, 40.0% of the 1,000 expected"
    tiny = check_quality(profile, Table.from_mapping(current_data(rows=50)), expected_rows=1000)
    assert only(tiny, "volume").level == "critical"
    assert check_quality(profile, Table.from_mapping(data), expected_rows=700).ok
    assert check_quality(profile, Table.from_mapping(data)).ok  # nothing expected, no check


def test_streaming_column_without_values_and_reference_all_null() -> None:
    rows = 200
    rng = np.random.default_rng(3)
    reference = Table.from_mapping({"x": rng.normal(size=rows), "never": [None] * rows})
    profile = build_profile(reference, bins=20)
    x = profile.columns["x"]
    assert isinstance(x.sketch, NumericSketch)
    empty = ColumnProfile(x.kind, NumericSketch.empty(x.sketch.edges), 0)
    never = profile.columns["never"]
    report = check_quality_sketches(profile, {"x": empty, "never": never}, rows)
    assert report.ok, report.findings
    current = Table.from_mapping({"x": rng.normal(size=rows), "never": [None] * rows})
    assert check_quality(profile, current).ok


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="null_rise"):
        QualityOptions(null_rise=5)
    with pytest.raises(ValueError, match="critical_volume"):
        QualityOptions(critical_volume=0.8)
