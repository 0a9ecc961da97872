"""The drift tests: all registered, statistics equal to scipy's (or a hand computation) on raw
data, the stated false-positive rate on unshifted data, and known shifts detected."""

from __future__ import annotations

import json
import math
import pkgutil
import subprocess
import sys
from collections.abc import Mapping, Sequence

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

import firewatch.drift.stattests as stattests_package
from firewatch.drift import DriftOptions, Table, check_tables
from firewatch.drift.binning import EMPTY_SHARE
from firewatch.drift.sketch import CategoricalSketch, Floats, NumericSketch, quantile_edges
from firewatch.drift.stattests import REGISTRY, Estimate, Kind, StatTest, get
from firewatch.drift.stattests.base import register

ALPHA = 0.05
SEEDS = 200


def stattest_modules() -> list[str]:
    """Every test module of the package (all but base and __init__)."""
    found = [m.name for m in pkgutil.iter_modules(stattests_package.__path__)]
    return sorted(name for name in found if name != "base")


def sketches(
    reference: Sequence[float] | Floats, current: Sequence[float] | Floats
) -> tuple[NumericSketch, NumericSketch, Floats, Floats]:
    """Both columns sorted and folded into sketches over the reference's 1,000-bin edges."""
    ref = np.sort(np.asarray(reference, dtype=np.float64))
    cur = np.sort(np.asarray(current, dtype=np.float64))
    edges = quantile_edges(ref)
    return NumericSketch.of_sorted(ref, edges), NumericSketch.of_sorted(cur, edges), ref, cur


def exact(name: str, reference: Floats, current: Floats) -> Estimate:
    ref_sketch, cur_sketch, ref, cur = sketches(reference, current)
    return get(name).numerical(ref_sketch, cur_sketch, ref, cur)


def from_profile(name: str, reference: Floats, current: Floats) -> Estimate:
    ref_sketch, cur_sketch, _, _ = sketches(reference, current)
    return get(name).numerical(ref_sketch, cur_sketch)


def counts(mapping: Mapping[str, int]) -> CategoricalSketch:
    return CategoricalSketch(dict(mapping))


# --- the registry -------------------------------------------------------------------------------


def test_every_test_module_registers_exactly_one_test() -> None:
    # In a fresh interpreter, so a module the package forgets to import cannot be registered
    # by this test importing it.
    code = (
        "import json, firewatch.drift.stattests as s; "
        "print(json.dumps({n: type(t).__module__ for n, t in s.REGISTRY.items()}))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    registered: dict[str, str] = json.loads(output)
    per_module = {
        module: sorted(n for n, m in registered.items() if m.rsplit(".", 1)[-1] == module)
        for module in stattest_modules()
    }
    assert all(len(names) == 1 for names in per_module.values()), per_module
    assert len(registered) == len(per_module)
    assert sorted(REGISTRY) == sorted(registered)


def test_the_six_tests_are_registered() -> None:
    assert sorted(REGISTRY) == ["chi_squared", "jensen_shannon", "ks", "psi", "wasserstein", "z"]


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_each_test_describes_itself(name: str) -> None:
    test = get(name)
    assert isinstance(test, StatTest)
    assert test.name == name
    assert test.title and test.title != name
    assert test.kinds and test.kinds <= set(Kind)
    assert isinstance(test.uses_p_value, bool)
    if test.uses_p_value:
        assert test.threshold == ALPHA
    else:
        assert test.threshold > 0
    assert test.describe()


def test_an_unknown_test_name_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="nope") as raised:
        get("nope")
    for name in REGISTRY:
        assert name in str(raised.value)


def test_a_name_cannot_be_registered_twice() -> None:
    before = dict(REGISTRY)

    class Duplicate(StatTest):
        name = "ks"
        title = "duplicate"
        kinds = frozenset({Kind.NUMERICAL})
        threshold = 0.05
        uses_p_value = True

        def describe(self) -> str:
            return "duplicate"

    with pytest.raises(ValueError, match="already registered"):
        register(Duplicate)
    assert before == REGISTRY


def test_a_test_refuses_a_kind_it_does_not_have() -> None:
    with pytest.raises(NotImplementedError, match="ks does not test categorical"):
        get("ks").categorical(counts({"a": 1}), counts({"a": 1}))
    with pytest.raises(NotImplementedError, match="chi_squared does not test numerical"):
        get("chi_squared").numerical(*sketches([1.0, 2.0], [1.0, 2.0])[:2])


# --- statistics equal scipy's on raw data ------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "m", "shift", "ties"),
    [
        (300, 300, 0.0, False),
        (300, 500, 0.2, False),
        (2000, 1500, 0.1, True),
        (9999, 40, 0.3, False),
    ],
)
def test_ks_small_samples_are_scipys(n: int, m: int, shift: float, ties: bool) -> None:
    rng = np.random.default_rng(n + m)
    reference, current = rng.normal(size=n), rng.normal(shift, 1.0, size=m)
    if ties:
        reference, current = np.round(reference * 4), np.round(current * 4)
    found = exact("ks", reference, current)
    expected = stats.ks_2samp(reference, current)
    assert found.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert found.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-15)
    assert found.is_exact


@pytest.mark.parametrize("ties", [False, True])
def test_ks_large_samples_are_within_1_percent_of_scipys_asymptotic(ties: bool) -> None:
    """From an effective size of 10,000 the p-value is Kolmogorov's limit (microseconds) rather
    than scipy's kstwo (O(n): 0.8 s at a million a side); the statistic is scipy's exactly."""
    rng = np.random.default_rng(7)
    reference, current = rng.normal(size=50_000), rng.normal(0.02, 1.0, size=40_000)
    if ties:
        reference, current = np.round(reference * 20), np.round(current * 20)
    found = exact("ks", reference, current)
    result = get("ks").judge(found, ALPHA, len(reference), len(current))
    expected = stats.ks_2samp(reference, current, method="asymp")
    assert result.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert result.p_value is not None
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-2)
    assert 1e-6 < result.p_value < 0.5  # a p-value worth comparing, not 0 or 1
    assert result.exact and result.certain


@pytest.mark.parametrize(
    ("n", "m", "ties", "scale"),
    [(1000, 1000, False, 1.0), (3000, 1234, True, 1.2), (500, 20_000, False, 2.0), (7, 5, True, 1)],
)
def test_wasserstein_is_scipys_over_the_reference_std(
    n: int, m: int, ties: bool, scale: float
) -> None:
    rng = np.random.default_rng(n * m)
    reference, current = rng.normal(size=n) * 3, rng.normal(0.3, scale, size=m) * 3
    if ties:
        reference, current = np.round(reference), np.round(current)
    found = exact("wasserstein", reference, current)
    expected = stats.wasserstein_distance(reference, current) / max(np.std(reference), 0.001)
    assert found.statistic == pytest.approx(expected, rel=1e-9)
    assert found.details["distance"] == pytest.approx(
        stats.wasserstein_distance(reference, current), rel=1e-9
    )


def test_wasserstein_of_a_constant_reference_is_normed_by_the_floor() -> None:
    reference, current = np.full(100, 2.0), np.array([2.0, 2.0, 2.5, 3.0])
    found = exact("wasserstein", reference, current)
    assert found.statistic == pytest.approx(stats.wasserstein_distance(reference, current) / 0.001)


def test_chi_squared_is_scipys_homogeneity_test() -> None:
    reference = counts({"a": 500, "b": 300, "c": 200})
    current = counts({"c": 90, "a": 120, "b": 90})
    found = get("chi_squared").categorical(reference, current)
    table = np.array([[500, 300, 200], [120, 90, 90]])
    expected = stats.chi2_contingency(table, correction=False)
    assert found.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert found.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    # by hand: Σ (o − e)² / e over both rows, e from the pooled shares, k − 1 degrees of freedom
    pooled = table.sum(axis=0) / table.sum()
    by_hand = sum(
        float(((row - pooled * row.sum()) ** 2 / (pooled * row.sum())).sum()) for row in table
    )
    assert found.statistic == pytest.approx(by_hand)
    assert found.p_value == pytest.approx(math.exp(-by_hand / 2))  # χ²(2) survival


def test_chi_squared_with_an_unseen_category_counts_it_as_a_column() -> None:
    reference = counts({"a": 60, "b": 40})
    current = counts({"a": 50, "b": 40, "new": 10})
    found = get("chi_squared").categorical(reference, current)
    expected = stats.chi2_contingency(np.array([[60, 40, 0], [50, 40, 10]]), correction=False)
    assert found.statistic == pytest.approx(expected.statistic)
    assert found.p_value == pytest.approx(expected.pvalue)
    assert math.isfinite(found.statistic)


def test_chi_squared_of_one_category_or_no_values_is_no_drift() -> None:
    test = get("chi_squared")
    assert test.categorical(counts({"a": 5}), counts({"a": 7})).p_value == 1.0
    assert test.categorical(counts({"a": 5, "b": 1}), counts({})).p_value == 1.0


def test_z_is_the_pooled_two_proportion_test_by_hand() -> None:
    reference = counts({"no": 300, "yes": 700})
    current = counts({"yes": 250, "no": 150})
    found = get("z").categorical(reference, current)
    p_ref, p_cur, pooled = 0.7, 250 / 400, 950 / 1400
    z = (p_cur - p_ref) / math.sqrt(pooled * (1 - pooled) * (1 / 1000 + 1 / 400))
    assert found.details["category"] == "yes"  # the reference's most frequent
    assert found.statistic == pytest.approx(z, rel=1e-12)
    assert found.p_value == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), rel=1e-9)
    assert get("z").p_value(z, 1000, 400) == pytest.approx(found.p_value)


def test_z_when_both_sides_hold_one_category_is_no_drift() -> None:
    found = get("z").categorical(counts({"a": 10}), counts({"a": 3}))
    assert (found.statistic, found.p_value) == (0.0, 1.0)


def _jensen_shannon_by_hand(p: Floats, q: Floats) -> float:
    p, q = p / p.sum(), q / q.sum()
    mid = (p + q) / 2
    return math.sqrt(0.5 * np.sum(p * np.log(p / mid)) + 0.5 * np.sum(q * np.log(q / mid)))


def test_jensen_shannon_of_categories_is_scipys_in_nats() -> None:
    reference = counts({"a": 500, "b": 300, "c": 200})
    current = counts({"a": 300, "b": 300, "c": 400})
    found = get("jensen_shannon").categorical(reference, current)
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.3, 0.3, 0.4])
    assert found.statistic == pytest.approx(distance.jensenshannon(p, q), rel=1e-12)
    assert found.statistic == pytest.approx(_jensen_shannon_by_hand(p, q), rel=1e-12)


def test_jensen_shannon_with_an_unseen_category_uses_the_empty_share() -> None:
    reference = counts({"a": 600, "b": 400})
    current = counts({"a": 500, "b": 400, "new": 100})
    found = get("jensen_shannon").categorical(reference, current)
    p, q = np.array([0.6, 0.4, EMPTY_SHARE]), np.array([0.5, 0.4, 0.1])
    assert found.statistic == pytest.approx(distance.jensenshannon(p, q), rel=1e-12)


def _decile_shares(reference: Floats, current: Floats) -> tuple[Floats, Floats]:
    """Shares over the reference deciles, bins closed on the right, zeros → EMPTY_SHARE."""
    deciles = np.quantile(reference, np.arange(1, 10) / 10)

    def shares(values: Floats) -> Floats:
        found = np.bincount(np.searchsorted(deciles, values, side="left"), minlength=10)
        share = found / len(values)
        return np.where(share == 0, EMPTY_SHARE, share)

    return shares(reference), shares(current)


# 0..10,000: the deciles (1,000, 2,000, …) are profile bin edges, so the profile's merged
# bins are the deciles exactly.
DECILE_REFERENCE = np.random.default_rng(3).permutation(np.arange(10_001.0))


@pytest.mark.parametrize(
    "current",
    [
        np.random.default_rng(4).normal(6000, 2500, size=5000),
        np.random.default_rng(5).uniform(0, 3000, size=800),  # seven empty deciles
        DECILE_REFERENCE[:4000],
    ],
    ids=["shifted", "empty-deciles", "same"],
)
def test_psi_and_jensen_shannon_of_numbers_are_over_reference_deciles(current: Floats) -> None:
    ref_shares, cur_shares = _decile_shares(DECILE_REFERENCE, current)
    psi = float(np.sum((cur_shares - ref_shares) * np.log(cur_shares / ref_shares)))
    js = float(distance.jensenshannon(ref_shares, cur_shares))
    for estimate in (
        exact("psi", DECILE_REFERENCE, current),
        from_profile("psi", DECILE_REFERENCE, current),
    ):
        assert estimate.is_exact
        assert estimate.statistic == pytest.approx(psi, rel=1e-9, abs=1e-12)
    for estimate in (
        exact("jensen_shannon", DECILE_REFERENCE, current),
        from_profile("jensen_shannon", DECILE_REFERENCE, current),
    ):
        assert estimate.is_exact
        assert estimate.statistic == pytest.approx(js, rel=1e-9, abs=1e-12)


def test_psi_of_categories_by_hand() -> None:
    reference = counts({"a": 500, "b": 300, "c": 200})
    current = counts({"a": 300, "b": 300, "c": 350, "d": 50})
    found = get("psi").categorical(reference, current)
    p = np.array([0.5, 0.3, 0.2, EMPTY_SHARE])
    q = np.array([0.3, 0.3, 0.35, 0.05])
    assert found.statistic == pytest.approx(float(np.sum((q - p) * np.log(q / p))), rel=1e-12)


# --- false positives and detection -------------------------------------------------------------


def _draw(test: str, rng: np.random.Generator, n: int, shifted: bool) -> Floats | list[str]:
    """One column for a test: normal numbers, three categories, or two."""
    if test in ("ks", "wasserstein"):
        return rng.normal(0.5 if shifted else 0.0, 1.0, size=n)
    if test == "z":
        return list(rng.choice(["yes", "no"], n, p=[0.45, 0.55] if shifted else [0.7, 0.3]))
    mix = [0.3, 0.3, 0.4] if shifted else [0.5, 0.3, 0.2]
    return list(rng.choice(["a", "b", "c"], n, p=mix))


def _flagged_share(test: str, n_reference: int, n_current: int, codes: bool = False) -> float:
    """The share of unshifted samples flagged; ``codes``: categories as the numbers 0, 1, 2 (a
    numerical column of few values is categorical, and much faster to build than strings)."""
    flagged = 0
    for seed in range(SEEDS):
        rng = np.random.default_rng(seed)
        if codes:
            mix = [0.5, 0.3, 0.2]
            reference = Table.from_mapping({"x": rng.choice(3, n_reference, p=mix)})
            current = Table.from_mapping({"x": rng.choice(3, n_current, p=mix)})
        else:
            reference = Table.from_mapping({"x": _draw(test, rng, n_reference, False)})
            current = Table.from_mapping({"x": _draw(test, rng, n_current, False)})
        column = check_tables(reference, current, DriftOptions(test=test)).columns[0]
        assert column.result is not None and column.result.test == test
        flagged += column.drifted
    return flagged / SEEDS


def _margin(alpha: float, trials: int) -> float:
    """Three binomial standard errors."""
    return 3 * math.sqrt(alpha * (1 - alpha) / trials)


@pytest.mark.parametrize(
    "test",
    [
        "ks",
        "z",
        "chi_squared",
    ],
)
def test_no_shift_is_flagged_at_most_at_the_stated_rate(test: str) -> None:
    share = _flagged_share(test, 300, 300)
    print(f"\n{test}: {share:.1%} of {SEEDS} unshifted 300-vs-300 samples flagged")
    assert share <= ALPHA + _margin(ALPHA, SEEDS)


def test_chi_squared_holds_its_rate_when_the_reference_is_much_larger() -> None:
    share = _flagged_share("chi_squared", 20_000, 300, codes=True)
    assert share <= ALPHA + _margin(ALPHA, SEEDS)


def test_distances_never_flag_large_unshifted_samples() -> None:
    columns = {
        "wasserstein": "wasserstein",
        "psi": "psi",
        "jensen_shannon": "jensen_shannon",
        "categories_js": "jensen_shannon",
        "categories_psi": "psi",
    }
    worst: dict[str, float] = {}
    for seed in range(8):
        rng = np.random.default_rng(seed)

        def draw(name: str, n: int, rng: np.random.Generator = rng) -> Floats | list[str]:
            if name.startswith("categories"):  # four values: a categorical column
                return rng.choice(4, n, p=[0.4, 0.3, 0.2, 0.1]).astype(np.float64)
            return rng.normal(size=n)

        reference = Table.from_mapping({name: draw(name, 20_000) for name in columns})
        current = Table.from_mapping({name: draw(name, 20_000) for name in columns})
        report = check_tables(reference, current, DriftOptions(column_tests=columns))
        assert not report.drifted
        for column in report.columns:
            assert column.result is not None
            worst[column.name] = max(worst.get(column.name, 0.0), column.result.statistic)
    for name, statistic in worst.items():
        assert statistic < REGISTRY[columns[name]].threshold / 3, (name, statistic)


SHIFTS = {
    "mean +0.5σ": (0.5, 1.0),
    "std ×2": (0.0, 2.0),
}


@pytest.mark.parametrize(
    ("test", "n"), [("ks", 300), ("wasserstein", 5000), ("psi", 5000), ("jensen_shannon", 5000)]
)
@pytest.mark.parametrize("shift", list(SHIFTS))
def test_numerical_shifts_are_detected(test: str, n: int, shift: str) -> None:
    loc, scale = SHIFTS[shift]
    if test != "ks" and scale != 1.0:
        scale = 1.5  # large samples: a smaller change suffices
    for seed in range(10):
        rng = np.random.default_rng(seed)
        reference = Table.from_mapping({"x": rng.normal(size=n)})
        current = Table.from_mapping({"x": rng.normal(loc, scale, size=n)})
        column = check_tables(reference, current, DriftOptions(test=test)).columns[0]
        assert column.drifted, (seed, column.result)


@pytest.mark.parametrize(
    ("test", "n"), [("chi_squared", 300), ("z", 300), ("psi", 5000), ("jensen_shannon", 5000)]
)
def test_category_mix_changes_are_detected(test: str, n: int) -> None:
    for seed in range(10):
        rng = np.random.default_rng(seed)
        reference = Table.from_mapping({"x": _draw(test, rng, n, False)})
        current = Table.from_mapping({"x": _draw(test, rng, n, True)})
        column = check_tables(reference, current, DriftOptions(test=test)).columns[0]
        assert column.result is not None and column.result.test == test
        assert column.drifted, (seed, column.result)
