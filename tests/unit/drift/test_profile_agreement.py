"""Verdicts from a reference profile (1,000 quantile bins) against exact verdicts from the raw
reference, over grids of shifts around the critical value, where they can disagree.

For every case: the exact statistic lies inside the profile result's ``[low, high]``; every
disagreement has the threshold (KS: the critical D) inside that band, so the profile result
says it is not ``certain``. The disagreement rates are printed (``pytest -s``) and documented in
docs/drift.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats

from firewatch.drift import DriftOptions, Table, build_profile, check_profile, check_tables
from firewatch.drift.check import compare
from firewatch.drift.profile import PreparedColumn, conform, profile_column
from firewatch.drift.sketch import DEFAULT_BINS, Floats
from firewatch.drift.stattests import TestResult as Result  # not "Test*": pytest would collect it
from firewatch.drift.stattests import get
from firewatch.drift.stattests.base import Kind

Draw = Callable[[np.random.Generator, float, float, int], Floats]


def normal(rng: np.random.Generator, shift: float, scale: float, n: int) -> Floats:
    return rng.normal(shift, scale, size=n)


def exponential(rng: np.random.Generator, shift: float, scale: float, n: int) -> Floats:
    return shift + scale * rng.exponential(size=n)


def rounded(rng: np.random.Generator, shift: float, scale: float, n: int) -> Floats:
    """Normal values to one decimal: ~80 distinct values, heavy ties, bins of one value each."""
    return np.round(rng.normal(shift, scale, size=n), 1)


@dataclass
class Tally:
    cases: int = 0
    disagreements: int = 0
    uncertain: int = 0
    widest: float = 0.0  # widest band seen, in units of the statistic

    def line(self) -> str:
        rate = self.disagreements / self.cases if self.cases else 0.0
        return (
            f"{self.cases} cases, {self.disagreements} disagreeing ({rate:.1%}), "
            f"{self.uncertain} not certain, widest band {self.widest:.5f}"
        )


SUMMARY: dict[str, Tally] = {}


@pytest.fixture(scope="module", autouse=True)
def _print_summary() -> Iterator[None]:
    yield
    print("\nprofile (1,000 bins) vs exact verdicts:")
    for name, tally in SUMMARY.items():
        print(f"  {name}: {tally.line()}")


def critical_d(n: int, m: int, alpha: float = 0.05) -> float:
    """The D whose asymptotic p-value is alpha (what the KS test uses at these sizes)."""
    return float(stats.kstwo.isf(alpha, round(n * m / (n + m))))


def agree(
    label: str,
    test: str,
    draw: Draw,
    n: int,
    grid: list[tuple[float, float]],
    seeds: range,
) -> Tally:
    """Run the grid of (shift, scale) for each seed; check each case; tally the disagreements."""
    options = DriftOptions(test=test)
    stat_test = get(test)
    tally = SUMMARY.setdefault(label, Tally())
    for seed in seeds:
        rng = np.random.default_rng(seed)
        reference = profile_column(Kind.NUMERICAL, draw(rng, 0.0, 1.0, n), keep_sorted=True)
        assert reference.profile.kind is Kind.NUMERICAL
        from_profile = PreparedColumn(reference.profile)  # no raw values: the profile only
        for shift, scale in grid:
            current = conform(
                reference.profile, Kind.NUMERICAL, draw(rng, shift, scale, n), keep_sorted=True
            )
            assert isinstance(current, PreparedColumn)
            exact = compare("x", reference, current, options).result
            bounded = compare("x", from_profile, PreparedColumn(current.profile), options).result
            assert exact is not None and bounded is not None
            check_case(stat_test.uses_p_value, exact, bounded, n, n, (seed, shift, scale))
            tally.cases += 1
            tally.uncertain += not bounded.certain
            tally.disagreements += exact.drifted != bounded.drifted
            tally.widest = max(tally.widest, bounded.high - bounded.low)
    return tally


def check_case(
    uses_p_value: bool, exact: Result, bounded: Result, n: int, m: int, case: object
) -> None:
    assert exact.exact and exact.certain and not bounded.exact
    assert {type(r.drifted) for r in (exact, bounded)} == {bool}  # not numpy's bool_ (JSON)
    # (a) the exact statistic lies inside the profile's bounds (the estimate is the low bound)
    slack = 1e-12 * max(1.0, abs(exact.statistic))
    assert bounded.low - slack <= exact.statistic <= bounded.high + slack, (case, exact, bounded)
    assert bounded.low <= bounded.statistic <= bounded.high
    # (b) a disagreement only where the threshold lies inside the band: not certain
    if bounded.certain:
        assert exact.drifted == bounded.drifted, (case, exact, bounded)
    if exact.drifted != bounded.drifted:
        assert not bounded.certain
        if uses_p_value:
            assert bounded.low <= critical_d(n, m) <= bounded.high, (case, bounded)
        else:
            assert bounded.low < bounded.threshold <= bounded.high, (case, bounded)


# KS at n = m = 20,000: critical D ≈ 0.01356. A mean shift of δσ moves D by ≈ 0.40·δ, a scale
# change by s by ≈ 0.24·(s − 1); sampling noise (sd ≈ 0.003) spreads each grid point further.
# Exp(1): a shift δ gives D = 1 − e^(−δ) ≈ δ; a scale s gives D ≈ (s − 1)/e.
KS_N = 20_000
# Wasserstein at n = m = 50,000, threshold 0.1: a shift of δσ gives δ; a scale s gives
# ≈ 0.80·|s − 1| (normal), |s − 1| (Exp(1), std 1).
W_N = 50_000


@dataclass(frozen=True)
class Sweep:
    test: str
    draw: Draw
    n: int
    grid: list[tuple[float, float]]
    seeds: int  # in the quick run; the slow run takes SLOW_SEEDS


def shifts(low: float, high: float, count: int) -> list[tuple[float, float]]:
    return [(float(d), 1.0) for d in np.linspace(low, high, count)]


def scales(low: float, high: float, count: int) -> list[tuple[float, float]]:
    return [(0.0, float(s)) for s in np.linspace(low, high, count)]


SWEEPS = {
    "ks, normal, n=m=20k": Sweep(
        "ks", normal, KS_N, shifts(0.026, 0.042, 9) + scales(1.04, 1.075, 6), seeds=1
    ),
    "ks, exponential, n=m=20k": Sweep(
        "ks", exponential, KS_N, shifts(0.010, 0.017, 5) + scales(1.028, 1.046, 4), seeds=1
    ),
    "ks, normal to 0.1 (ties), n=m=20k": Sweep(
        "ks", rounded, KS_N, shifts(0.026, 0.042, 5), seeds=1
    ),
    "wasserstein, normal, n=m=50k": Sweep(
        "wasserstein",
        normal,
        W_N,
        shifts(0.08, 0.12, 17) + scales(1.10, 1.15, 11) + scales(0.85, 0.90, 6),
        seeds=2,
    ),
    "wasserstein, exponential, n=m=50k": Sweep(
        "wasserstein", exponential, W_N, shifts(0.08, 0.12, 9) + scales(1.08, 1.12, 9), seeds=2
    ),
    # Bins of a single value each: the band is wider (a bin spans the gap to the next value).
    "wasserstein, normal to 0.1 (ties), n=m=50k": Sweep(
        "wasserstein", rounded, W_N, shifts(0.08, 0.12, 9) + scales(1.10, 1.15, 6), seeds=2
    ),
}
SLOW_SEEDS = 25


@pytest.mark.parametrize("label", list(SWEEPS))
def test_profile_verdicts_near_the_threshold(label: str) -> None:
    sweep = SWEEPS[label]
    agree(label, sweep.test, sweep.draw, sweep.n, sweep.grid, range(sweep.seeds))


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("label", list(SWEEPS))
def test_profile_verdicts_near_the_threshold_many_seeds(label: str) -> None:
    """The measurement quoted in docs/drift.md (two to three minutes in all)."""
    sweep = SWEEPS[label]
    agree(
        f"{label} (slow)", sweep.test, sweep.draw, sweep.n, sweep.grid, range(100, 100 + SLOW_SEEDS)
    )


@pytest.mark.parametrize("test", ["psi", "jensen_shannon"])
def test_histogram_tests_are_exact_from_a_profile(test: str) -> None:
    options = DriftOptions(test=test)
    rng = np.random.default_rng(99)
    reference = profile_column(Kind.NUMERICAL, rng.normal(size=W_N), keep_sorted=True)
    for shift in (0.0, 0.3, 0.6):
        current = conform(
            reference.profile, Kind.NUMERICAL, rng.normal(shift, 1.0, W_N), keep_sorted=True
        )
        assert isinstance(current, PreparedColumn)
        exact = compare("x", reference, current, options).result
        bounded = compare(
            "x", PreparedColumn(reference.profile), PreparedColumn(current.profile), options
        ).result
        assert exact is not None and bounded is not None
        assert bounded.exact and bounded.certain  # nothing lost: deciles are merged profile bins
        assert bounded.statistic == exact.statistic
        assert bounded.drifted == exact.drifted


def test_ks_band_is_one_reference_bin() -> None:
    rng = np.random.default_rng(5)
    reference = profile_column(Kind.NUMERICAL, rng.normal(size=KS_N))
    current = conform(reference.profile, Kind.NUMERICAL, rng.normal(0.03, 1.0, KS_N))
    assert isinstance(current, PreparedColumn)
    result = compare("x", reference, current, DriftOptions(test="ks")).result
    assert result is not None
    assert result.high - result.low == pytest.approx(1 / DEFAULT_BINS, rel=0.01)


def test_check_tables_and_check_profile_are_the_verdicts_compared_here() -> None:
    """The grid above calls `compare` directly (reusing sorted arrays); the public entry points
    give the same results."""
    rng = np.random.default_rng(1)
    reference = Table.from_mapping({"ks": rng.normal(size=KS_N), "w": rng.normal(size=KS_N)})
    current = Table.from_mapping(
        {"ks": rng.normal(0.034, 1.0, KS_N), "w": rng.normal(0.1, 1.0, KS_N)}
    )
    options = DriftOptions(column_tests={"ks": "ks", "w": "wasserstein"})
    exact = check_tables(reference, current, options)
    bounded = check_profile(build_profile(reference), current, options)
    assert exact.exact and not bounded.exact
    for name in ("ks", "w"):
        column = reference.columns[name]
        prepared = profile_column(column.kind, column.values, keep_sorted=True)
        cur = conform(
            prepared.profile, Kind.NUMERICAL, current.columns[name].values, keep_sorted=True
        )
        assert isinstance(cur, PreparedColumn)
        direct_exact = compare(name, prepared, cur, options).result
        direct_bounded = compare(
            name, PreparedColumn(prepared.profile), PreparedColumn(cur.profile), options
        ).result
        by_name_exact = {c.name: c.result for c in exact.columns}[name]
        by_name_bounded = {c.name: c.result for c in bounded.columns}[name]
        assert by_name_exact == direct_exact
        assert by_name_bounded == direct_bounded
