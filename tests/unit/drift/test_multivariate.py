"""The domain-classifier drift detector: interactions that column tests cannot see."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from firewatch.drift import Table, build_profile, check_tables
from firewatch.drift.multivariate import (
    MultivariateResult,
    auc_sigma,
    auc_threshold,
    check_multivariate,
)


def gaussians(
    rows: int, correlation: float, seed: int, *, shift: float = 0.0, noise: int = 3
) -> Table:
    """Columns ``a`` and ``b`` standard normal (``a`` shifted by ``shift``) with the given
    correlation, plus independent standard normal noise columns."""
    rng = np.random.default_rng(seed)
    cov = [[1.0, correlation], [correlation, 1.0]]
    ab = rng.multivariate_normal([shift, 0.0], cov, rows)
    data: dict[str, Any] = {"a": ab[:, 0], "b": ab[:, 1]}
    for k in range(noise):
        data[f"noise{k}"] = rng.normal(size=rows)
    return Table.from_mapping(data)


def test_correlation_change_is_flagged_though_no_marginal_changed() -> None:
    reference = gaussians(1000, 0.0, seed=0)
    current = gaussians(1000, 0.8, seed=1000)

    univariate = check_tables(reference, current)
    assert [c.name for c in univariate.tested] == ["a", "b", "noise0", "noise1", "noise2"]
    assert univariate.drifted == []  # every marginal is still standard normal

    result = check_multivariate(reference, current, seed=0)
    assert result.status == "ok"
    assert result.drifted
    assert result.auc is not None and result.threshold is not None
    assert result.auc >= result.threshold >= 0.55
    assert result.auc > 0.65
    assert result.p_value is not None and result.p_value < 1e-6
    assert (result.n_reference, result.n_current) == (1000, 1000)
    assert {f.name for f in result.top_features[:2]} == {"a", "b"}
    assert all(f.auc < 0.56 for f in result.top_features)  # no column tells them apart alone
    assert "AUC" in result.message and "a" in result.message


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_change_is_not_flagged(seed: int) -> None:
    reference = gaussians(500, 0.3, seed=seed)
    current = gaussians(500, 0.3, seed=seed + 100)
    result = check_multivariate(reference, current, seed=seed)
    assert result.status == "ok"
    assert not result.drifted, result.message
    assert result.auc is not None and result.auc < 0.55


def test_mean_shift_is_flagged_and_the_shifted_column_ranks_first() -> None:
    result = check_multivariate(
        gaussians(1000, 0.0, seed=5), gaussians(1000, 0.0, seed=6, shift=0.6)
    )
    assert result.drifted, result.message
    assert result.top_features[0].name == "a"
    assert result.top_features[0].auc > 0.6


def test_categorical_mix_change_is_flagged() -> None:
    rng = np.random.default_rng(7)
    rows = 600
    reference = Table.from_mapping(
        {
            "plan": rng.choice(["free", "pro", "team"], rows, p=[0.6, 0.3, 0.1]).astype(object),
            "x": rng.normal(size=rows),
        }
    )
    current = Table.from_mapping(
        {
            "plan": rng.choice(["free", "pro", "enterprise"], rows, p=[0.3, 0.3, 0.4]).astype(
                object
            ),
            "x": rng.normal(size=rows),
        }
    )
    result = check_multivariate(reference, current, top=1)
    assert result.drifted
    assert [f.name for f in result.top_features] == ["plan"]


def test_same_seed_same_result_and_to_dict_is_json() -> None:
    reference, current = gaussians(300, 0.0, seed=8), gaussians(300, 0.5, seed=9)
    first = check_multivariate(reference, current, seed=3, max_rows=200)
    second = check_multivariate(reference, current, seed=3, max_rows=200)
    assert first == second
    assert (first.n_reference, first.n_current) == (200, 200)
    data = json.loads(json.dumps(first.to_dict()))
    assert data["test"] == "domain_classifier"
    assert data["auc"] == first.auc
    assert len(data["top_features"]) == 5


def test_profile_sample_and_mappings_with_missing_values() -> None:
    rng = np.random.default_rng(10)
    rows = 300
    age = rng.normal(40, 10, rows)
    age[::10] = np.nan
    reference = Table.from_mapping(
        {"age": age, "city": rng.choice(["a", "b", "c"], rows).astype(object)}
    )
    profile = build_profile(reference, sample_rows=200)
    current: dict[str, list[Any]] = {
        "age": [None if i % 7 == 0 else float(v) for i, v in enumerate(rng.normal(40, 10, 150))],
        "city": [None if i % 5 == 0 else str(c) for i, c in enumerate(rng.choice(["a", "d"], 150))],
    }
    result = check_multivariate(profile, current)
    assert result.status == "ok"
    assert result.columns == ("age", "city")
    assert (result.n_reference, result.n_current) == (150, 150)  # balanced


def test_threshold_is_the_mann_whitney_bound_or_min_auc() -> None:
    sigma = auc_sigma(2000, 2000)
    assert sigma == pytest.approx(math.sqrt(4001 / (12 * 2000 * 2000)))
    assert auc_threshold(2000, 2000) == 0.55  # 0.5 + 2.33 σ ≈ 0.521: min_auc wins
    assert auc_threshold(60, 60) == pytest.approx(0.5 + 2.3263 * auc_sigma(60, 60), abs=1e-4)
    assert auc_threshold(2000, 2000, min_auc=0.5) == pytest.approx(0.5 + 2.3263 * sigma, abs=1e-4)


def insufficient(result: MultivariateResult) -> None:
    assert result.status == "insufficient_data"
    assert not result.drifted
    assert result.auc is None and result.threshold is None
    assert result.message
    json.dumps(result.to_dict())


def test_too_few_rows_is_a_result_not_an_exception() -> None:
    result = check_multivariate(gaussians(40, 0.0, seed=1), gaussians(500, 0.0, seed=2))
    insufficient(result)
    assert "40 reference" in result.message
    insufficient(check_multivariate(Table({}, 0), Table({}, 0)))
    insufficient(check_multivariate({}, {"a": []}))


def test_unusable_input_is_a_result_not_an_exception() -> None:
    result = check_multivariate({"a": [1.0, 2.0], "b": [1.0]}, {"a": [1.0]})
    insufficient(result)
    assert "reference" in result.message


def test_no_usable_column() -> None:
    rng = np.random.default_rng(2)
    reference = Table.from_mapping(
        {
            "empty": np.full(100, np.nan),
            "only_ref": rng.normal(size=100),
            "kind": rng.normal(size=100),
        }
    )
    current = Table.from_mapping(
        {
            "empty": rng.normal(size=100),
            "kind": rng.choice(["x", "y"], 100).astype(object),
        }
    )
    result = check_multivariate(reference, current)
    insufficient(result)
    assert result.skipped == {
        "empty": "every reference value is missing",
        "only_ref": "not in the current rows",
        "kind": "type changed: numerical in the reference, categorical now",
    }


def test_low_cardinality_numbers_against_categories_and_infinities() -> None:
    rng = np.random.default_rng(4)
    rows = 200
    reference = Table.from_mapping(
        {"flag": rng.choice(["0", "1"], rows).astype(object), "x": rng.normal(size=rows)}
    )
    x = rng.normal(size=rows)
    x[:5] = np.inf
    current = Table.from_mapping({"flag": rng.choice([0.0, 1.0], rows), "x": x})
    result = check_multivariate(reference, current, max_rows=100)
    assert result.status == "ok"
    assert result.columns == ("flag", "x")
    assert not result.drifted
