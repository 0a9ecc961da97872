"""Column sketches (bins, merging, streaming) and reference profiles (build, save, load)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from firewatch.drift import (
    DataError,
    DriftOptions,
    Profile,
    Table,
    build_profile,
    check_profile,
    check_sketches,
)
from firewatch.drift.profile import FORMAT, SAMPLE_ROWS, ColumnProfile, profile_column
from firewatch.drift.sketch import (
    DEFAULT_BINS,
    MAX_CATEGORIES,
    OTHER,
    CategoricalSketch,
    NumericSketch,
    category_name,
    quantile_edges,
    sorted_finite,
)
from firewatch.drift.stattests.base import Kind

# --- numerical sketches -----------------------------------------------------------------------


def test_bins_are_closed_on_the_right() -> None:
    edges = np.array([1.0, 2.0, 3.0])
    sketch = NumericSketch.of_values([0.5, 1.0, 1.5, 2.0, 3.0, 3.5, math.nan], edges)
    assert sketch.counts.tolist() == [2, 2, 1, 1]  # ≤1 | (1,2] | (2,3] | >3
    assert sketch.sums.tolist() == [1.5, 3.5, 3.0, 3.5]
    assert sketch.nulls == 1
    assert sketch.cdf_at_edges().tolist() == pytest.approx([2 / 6, 4 / 6, 5 / 6])
    assert (sketch.minimum, sketch.maximum) == (0.5, 3.5)
    values = np.array([0.5, 1.0, 1.5, 2.0, 3.0, 3.5])
    assert sketch.mean == pytest.approx(values.mean())
    assert sketch.std == pytest.approx(values.std())


def test_quantile_edges_are_equal_mass() -> None:
    values = np.sort(np.random.default_rng(0).normal(size=100_000))
    edges = quantile_edges(values)
    assert len(edges) == DEFAULT_BINS + 1
    assert np.all(np.diff(edges) > 0)
    assert (edges[0], edges[-1]) == (values[0], values[-1])
    mass = NumericSketch.of_sorted(values, edges).counts / len(values)
    assert mass.max() <= 1.01 / DEFAULT_BINS
    assert mass[1:-1].min() >= 0.99 / DEFAULT_BINS
    assert mass[-1] == 0  # nothing above the reference maximum


def test_quantile_edges_of_tied_values_are_the_distinct_values() -> None:
    values = np.sort(np.random.default_rng(1).integers(0, 12, size=10_000).astype(np.float64))
    edges = quantile_edges(values)
    assert edges.tolist() == [float(v) for v in range(12)]
    assert quantile_edges(np.array([4.0])).tolist() == [4.0]
    assert len(quantile_edges(np.empty(0))) == 0
    assert len(quantile_edges(np.arange(50.0))) == 50  # fewer values than bins: each an edge


def test_sorted_finite_counts_missing_values() -> None:
    ordered, nulls = sorted_finite(np.array([3.0, math.nan, 1.0, math.nan]))
    assert ordered.tolist() == [1.0, 3.0]
    assert nulls == 2


def test_streaming_in_chunks_gives_the_sketch_of_all_at_once() -> None:
    rng = np.random.default_rng(2)
    values = rng.lognormal(size=30_000)
    values[rng.choice(len(values), 500, replace=False)] = math.nan
    edges = quantile_edges(sorted_finite(rng.lognormal(size=5000))[0])
    whole = NumericSketch.of_values(values, edges)
    streamed = NumericSketch.empty(edges)
    chunks = [*np.array_split(values, 7), np.empty(0), np.full(3, math.nan)]
    for chunk in chunks:
        streamed.add(chunk)
    assert streamed.counts.tolist() == whole.counts.tolist()
    assert streamed.nulls == whole.nulls + 3 == 503  # the extra all-NaN chunk
    assert streamed.sums == pytest.approx(whole.sums, rel=1e-12, abs=1e-9)
    assert streamed.m2 == pytest.approx(whole.m2, rel=1e-9)
    assert (streamed.minimum, streamed.maximum) == (whole.minimum, whole.maximum)
    finite = values[~np.isnan(values)]
    assert streamed.mean == pytest.approx(finite.mean(), rel=1e-12)
    assert streamed.std == pytest.approx(finite.std(), rel=1e-9)


def test_merging_into_an_empty_sketch_copies_it() -> None:
    edges = np.array([0.0, 1.0])
    sketch = NumericSketch.empty(edges)
    sketch.merge(NumericSketch.of_values([0.5, 2.0, 3.0], edges))
    assert sketch.std == pytest.approx(np.std([0.5, 2.0, 3.0]))
    sketch.merge(NumericSketch.empty(edges))
    assert sketch.n == 3


def test_sketches_over_different_edges_do_not_merge() -> None:
    sketch = NumericSketch.empty(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="different edges"):
        sketch.merge(NumericSketch.empty(np.array([0.0, 2.0])))


def test_an_empty_sketch_has_no_mean_and_round_trips() -> None:
    sketch = NumericSketch.of_values([math.nan, math.nan], np.array([0.0, 1.0]))
    assert (sketch.n, sketch.nulls) == (0, 2)
    assert math.isnan(sketch.mean) and math.isnan(sketch.std)
    assert sketch.cdf_at_edges().tolist() == [0.0, 0.0]
    data = json.loads(json.dumps(sketch.to_dict()))
    assert (data["min"], data["max"]) == (None, None)
    again = NumericSketch.from_dict(data)
    assert (again.minimum, again.maximum, again.nulls) == (math.inf, -math.inf, 2)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"counts": [1, 2]}, "len"),
        ({"sums": [1.0]}, "len"),
        ({"edges": [0.0, 0.0]}, "increasing"),
    ],
)
def test_a_malformed_numerical_sketch_is_refused(change: dict[str, Any], message: str) -> None:
    data = NumericSketch.of_values([0.5, 1.5], np.array([0.0, 1.0])).to_dict() | change
    with pytest.raises(ValueError, match=message):
        NumericSketch.from_dict(data)


# --- categorical sketches ---------------------------------------------------------------------


def test_category_names_are_text() -> None:
    assert [category_name(v) for v in (True, False, 2.0, 2.5, 3, "x")] == [
        "true",
        "false",
        "2",
        "2.5",
        "3",
        "x",
    ]


def test_categories_stream_and_count_missing_values() -> None:
    values: list[Any] = ["a", "b", None, "a", math.nan, True, 2.0, "c", None] * 50
    whole = CategoricalSketch.of_values(values)
    assert whole.counts == {"a": 100, "b": 50, "true": 50, "2": 50, "c": 50}
    assert whole.nulls == 150
    streamed = CategoricalSketch()
    for start in range(0, len(values), 37):
        part = CategoricalSketch.of_values(values[start : start + 37])
        streamed.merge(part)
    assert streamed == whole
    assert CategoricalSketch.from_dict(json.loads(json.dumps(whole.to_dict()))) == whole


def test_categories_beyond_the_limit_are_counted_as_other() -> None:
    values = [f"c{i}" for i in range(MAX_CATEGORIES + 500)]
    sketch = CategoricalSketch.of_values(values)
    assert len(sketch.counts) == MAX_CATEGORIES
    assert sketch.counts[OTHER] == 501
    assert sketch.n == len(values)


def test_negative_category_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        CategoricalSketch.from_dict({"counts": {"a": -1}})


# --- profiles ----------------------------------------------------------------------------------


def reference_table(rows: int = 5000, seed: int = 0) -> Table:
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3, 1, size=rows)
    amount[::50] = math.nan
    country: list[str | None] = list(rng.choice(["de", "fr", "us", "jp"], rows))
    country[::40] = [None] * len(country[::40])
    return Table.from_mapping(
        {
            "amount": amount,
            "age": rng.normal(40, 12, size=rows),
            "stars": rng.integers(1, 6, size=rows),  # five values: categorical
            "country": country,
        }
    )


def current_table(rows: int = 3000, seed: int = 1) -> Table:
    rng = np.random.default_rng(seed)
    return Table.from_mapping(
        {
            "amount": rng.lognormal(3.2, 1, size=rows),
            "age": rng.normal(40, 12, size=rows),
            "stars": rng.integers(1, 7, size=rows),  # a new value: 6
            "country": list(rng.choice(["de", "fr", "us", "br"], rows)),
        }
    )


def test_a_profile_holds_a_sketch_per_column() -> None:
    table = reference_table()
    profile = build_profile(table, source="ref.parquet")
    assert (profile.rows, profile.bins, profile.source) == (5000, DEFAULT_BINS, "ref.parquet")
    kinds = {name: column.kind for name, column in profile.columns.items()}
    assert kinds == {
        "amount": Kind.NUMERICAL,
        "age": Kind.NUMERICAL,
        "stars": Kind.CATEGORICAL,
        "country": Kind.CATEGORICAL,
    }
    amount = profile.columns["amount"]
    assert isinstance(amount.sketch, NumericSketch)
    assert (amount.sketch.nulls, amount.rows) == (100, 5000)
    assert len(amount.sketch.edges) == DEFAULT_BINS + 1
    stars = profile.columns["stars"]
    assert isinstance(stars.sketch, CategoricalSketch)
    assert sorted(stars.sketch.counts) == ["1", "2", "3", "4", "5"]
    assert profile.columns["country"].sketch.nulls == 125
    assert set(profile.sample) == set(table.columns)
    assert all(len(v) == SAMPLE_ROWS for v in profile.sample.values())
    assert None in profile.sample["amount"]  # NaN sampled as null: JSON-ready


def test_profile_of_an_empty_table_is_refused() -> None:
    with pytest.raises(DataError, match="no rows"):
        build_profile(Table.from_mapping({"x": []}))


def test_profile_round_trips_through_json(tmp_path: Path) -> None:
    profile = build_profile(reference_table())
    path = tmp_path / "reference.profile.json"
    profile.save(path)
    loaded = Profile.load(path)
    assert loaded.to_dict() == profile.to_dict()
    assert loaded.created_at == profile.created_at
    current = current_table()
    assert check_profile(loaded, current).to_dict() == check_profile(profile, current).to_dict()


def test_a_profile_is_small(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    table = Table.from_mapping({f"x{i}": rng.normal(size=100_000) for i in range(4)})
    path = tmp_path / "p.json"
    build_profile(table, sample_rows=0).save(path)
    per_column = path.stat().st_size / 4
    assert per_column < 75_000  # 1,001 edges, 1,002 counts and sums as JSON numbers


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def valid_profile_dict() -> dict[str, Any]:
    return build_profile(reference_table(200), sample_rows=5).to_dict()


def broken(**changes: Any) -> str:
    return json.dumps(valid_profile_dict() | changes)


def broken_column(**changes: Any) -> str:
    data = valid_profile_dict()
    data["columns"]["amount"] |= changes
    return json.dumps(data)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        ("[1, 2]", "not a profile"),
        ('{"rows": 3}', "not a Firewatch profile"),
        (json.dumps({"format": "firewatch-profile/0"}), "not a Firewatch profile"),
        (json.dumps({"format": FORMAT}), "broken profile"),
        (broken(rows="many"), "broken profile"),
        (broken(created_at="yesterday"), "broken profile"),
        (broken(columns=[]), "broken profile"),
        (broken(columns=None), "broken profile"),
        (broken(sample=[1]), "broken profile"),
        (broken_column(kind="text"), "broken profile"),
        (broken_column(counts=[1, 2, 3]), "broken profile"),
        (broken_column(edges=[3.0, 2.0, 1.0]), "broken profile"),
        (broken_column(edges="abc"), "broken profile"),
        (broken_column(distinct=None), "broken profile"),
    ],
)
def test_a_broken_profile_file_is_a_data_error(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    path = write(tmp_path / "profile.json", content)
    with pytest.raises(DataError, match=message):
        Profile.load(path)


def test_a_missing_profile_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        Profile.load(tmp_path / "nope.json")
    with pytest.raises(DataError, match="cannot read"):
        Profile.load(tmp_path)  # a directory


# --- streaming current windows ----------------------------------------------------------------


def fold(profile: Profile, current: Table, chunk: int) -> dict[str, ColumnProfile]:
    """Fold a current table into sketches over the profile's bins, ``chunk`` rows at a time."""
    folded: dict[str, ColumnProfile] = {}
    for name, column in current.columns.items():
        reference = profile.columns[name]
        if isinstance(reference.sketch, NumericSketch):
            numeric = NumericSketch.empty(reference.sketch.edges)
            for start in range(0, current.rows, chunk):
                numeric.add(column.values[start : start + chunk])
            folded[name] = ColumnProfile(Kind.NUMERICAL, numeric, 0)
        else:
            categories = CategoricalSketch()
            for start in range(0, current.rows, chunk):
                part = column.values[start : start + chunk]
                if column.kind is Kind.NUMERICAL:
                    categories.add(category_name(float(v)) for v in part)
                else:
                    categories.add(part)
            folded[name] = ColumnProfile(Kind.CATEGORICAL, categories, len(categories.counts))
    return folded


def test_streamed_sketches_give_the_verdicts_of_the_whole_table() -> None:
    profile = build_profile(reference_table())
    current = current_table()
    options = DriftOptions(column_tests={"age": "ks"})
    whole = check_profile(profile, current, options)
    streamed = check_sketches(profile, fold(profile, current, chunk=700), current.rows, options)
    assert [c.name for c in streamed.columns] == [c.name for c in whole.columns]
    for a, b in zip(streamed.columns, whole.columns, strict=True):
        assert (a.status, a.new_categories, a.current_rows) == (
            b.status,
            b.new_categories,
            b.current_rows,
        )
        assert a.result is not None and b.result is not None
        assert a.result.test == b.result.test
        assert a.result.statistic == pytest.approx(b.result.statistic, rel=1e-9)
        assert (a.result.low, a.result.high) == pytest.approx(
            (b.result.low, b.result.high), rel=1e-9
        )
        assert a.drifted == b.drifted
    assert {c.name: c.new_categories for c in streamed.columns}["stars"] == ("6",)


def test_profile_column_profiles_low_cardinality_numbers_as_categories() -> None:
    prepared = profile_column(Kind.NUMERICAL, np.array([1.0, 2.0, 2.0, 5.0, math.nan, 3.5]))
    assert prepared.profile.kind is Kind.CATEGORICAL
    assert isinstance(prepared.profile.sketch, CategoricalSketch)
    assert prepared.profile.sketch.counts == {"1": 1, "2": 2, "3.5": 1, "5": 1}
    assert (prepared.profile.sketch.nulls, prepared.profile.distinct) == (1, 4)
    six = profile_column(Kind.NUMERICAL, np.arange(6.0))
    assert six.profile.kind is Kind.NUMERICAL
