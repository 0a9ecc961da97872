"""The demo's trained models and how registry metadata is read into a version spec."""

from __future__ import annotations

import time

import pytest

from firewatch.demo.models import ALGORITHMS, ModelCatalog, load_split, train
from firewatch.demo.versions import BrokenMode, spec_from_metadata


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_each_algorithm_trains_quickly_and_accurately(algorithm: str) -> None:
    load_split()
    started = time.perf_counter()
    model = train(algorithm)
    assert time.perf_counter() - started < 2.0
    assert model.test_accuracy > 0.9


def test_shuffled_labels_give_near_chance_accuracy() -> None:
    model = train("logistic_regression", shuffled_labels=True)
    assert model.test_accuracy < 0.75


def test_catalog_trains_once_per_algorithm_and_label_mode() -> None:
    catalog = ModelCatalog()
    first = catalog.get("random_forest")
    started = time.perf_counter()
    again = catalog.get("random_forest")
    assert again is first
    assert time.perf_counter() - started < 0.01
    assert catalog.get("random_forest", shuffled_labels=True) is not first


def test_unknown_algorithm_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown algorithm 'xgboost'.*logistic_regression"):
        train("xgboost")


def test_predictions_are_class_labels() -> None:
    split = load_split()
    predictions = train("logistic_regression").predict(split.x_test[:5].tolist())
    assert predictions == [int(label) for label in split.y_test[:5]]


def test_metadata_defaults_to_a_healthy_logistic_regression() -> None:
    spec = spec_from_metadata("v1", {})
    assert (spec.algorithm, spec.broken, spec.invalid) == ("logistic_regression", None, None)


def test_broken_modes_read_their_parameters_with_defaults() -> None:
    assert spec_from_metadata("v", {"broken": "errors"}).broken_rate == 0.5
    assert spec_from_metadata("v", {"broken": "errors", "broken_rate": "0.2"}).broken_rate == 0.2
    assert spec_from_metadata("v", {"broken": "slow"}).broken_latency_ms == 1500
    slow = spec_from_metadata("v", {"broken": "slow", "broken_latency_ms": 20})
    assert (slow.broken, slow.broken_latency_ms) == (BrokenMode.SLOW, 20)


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [
        ({"broken": "explode"}, "unknown metadata.broken 'explode'"),
        ({"broken": "errors", "broken_rate": 2}, "broken_rate must be between 0 and 1"),
        ({"broken": "errors", "broken_rate": "lots"}, "broken_rate must be a number"),
        ({"broken": "slow", "broken_latency_ms": -5}, "broken_latency_ms cannot be negative"),
        ({"algorithm": "xgboost"}, "unknown algorithm 'xgboost'"),
    ],
)
def test_metadata_that_cannot_be_honoured_makes_the_version_invalid(
    metadata: dict[str, object], problem: str
) -> None:
    invalid = spec_from_metadata("v9", metadata).invalid
    assert invalid is not None
    assert problem in invalid
