"""Reading a traffic split from the registry document, and drawing versions by weight."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from firewatch.demo.models import ModelCatalog
from firewatch.demo.registry import RegistryError, _RegistryModel, _select_version
from firewatch.demo.state import ServingState, TrafficMix, load_version
from firewatch.demo.versions import VersionSpec


def document(traffic: dict[str, dict[str, int]]) -> _RegistryModel:
    return _RegistryModel.model_validate(
        {
            "aliases": {"production": "v2"},
            "versions": [
                {"version": "v1", "metadata": {"algorithm": "logistic_regression"}},
                {"version": "v2", "metadata": {"algorithm": "random_forest"}},
                {"version": "v3", "metadata": {"broken": "crash"}},
            ],
            "traffic": traffic,
        }
    )


def test_a_split_of_the_alias_lists_every_version_with_its_weight() -> None:
    served = _select_version(document({"production": {"v2": 90, "v1": 10}}), "iris", "production")
    assert served.primary.version == "v2"
    assert [(spec.version, weight) for spec, weight in served.split] == [("v1", 10), ("v2", 90)]
    assert served.split[0][0].algorithm == "logistic_regression"


def test_no_split_or_another_alias_split_serves_the_alias_version_alone() -> None:
    assert _select_version(document({}), "iris", "production").split == ()
    other = document({"staging": {"v1": 50, "v3": 50}, "production": {"v2": 100}})
    assert _select_version(other, "iris", "production").split == ()


def test_a_split_naming_an_unknown_version_is_a_registry_problem() -> None:
    with pytest.raises(RegistryError, match=r"names unknown versions \['v9'\]"):
        _select_version(document({"production": {"v2": 50, "v9": 50}}), "iris", "production")


def test_versions_are_drawn_by_weight_and_a_request_reads_the_mix_once() -> None:
    catalog = ModelCatalog()
    v1 = load_version("iris", VersionSpec("v1", "logistic_regression"), catalog)
    v3 = load_version("iris", VersionSpec("v3", invalid="bad build"), catalog)
    mix = TrafficMix((v1, v3), (75, 25))
    rng = random.Random(11)
    counts = Counter(mix.pick(rng).version for _ in range(4000))
    assert 0.72 < counts["v1"] / 4000 < 0.78
    assert mix.describe() == "v1 75%, v3 25%"

    state = ServingState("iris")
    state.active = v1
    assert state.version_for_request(rng) is v1
    state.mix = TrafficMix((v3,), (100,))
    assert state.version_for_request(rng) is v3
