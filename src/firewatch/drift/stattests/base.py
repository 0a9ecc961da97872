"""What every statistical test is: a name, the column kinds it accepts, a default threshold, and
how a statistic becomes a verdict. Tests compute their statistic exactly from raw values, or
from two sketches (`firewatch.drift.sketch`) with bounds on the exact value (``low``/``high``):
the verdict is *certain* when it is the same anywhere in those bounds."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from firewatch.drift.sketch import CategoricalSketch, Floats, NumericSketch


class Kind(StrEnum):
    NUMERICAL = "numerical"
    CATEGORICAL = "categorical"


@dataclass(frozen=True)
class Estimate:
    """A statistic and bounds on its exact value (equal to it when computed from raw data)."""

    statistic: float
    low: float
    high: float
    details: dict[str, Any] = field(default_factory=dict)
    p_value: float | None = None  # when computed along with an exact statistic

    @classmethod
    def exact(cls, statistic: float, p_value: float | None = None, **details: Any) -> Estimate:
        return cls(statistic, statistic, statistic, details, p_value)

    @property
    def is_exact(self) -> bool:
        return bool(self.low == self.high)  # a plain bool, also for numpy floats


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # not a pytest class

    test: str
    statistic: float
    p_value: float | None  # for tests that give one
    score: float  # what the threshold is compared with: the p-value, or the statistic
    threshold: float
    drifted: bool
    exact: bool  # computed from raw values, not from a profile
    certain: bool  # the verdict holds anywhere in the statistic's error bounds
    low: float
    high: float
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "statistic": _finite(self.statistic),
            "p_value": _finite(self.p_value),
            "score": _finite(self.score),
            "threshold": self.threshold,
            "drifted": self.drifted,
            "exact": self.exact,
            "certain": self.certain,
            "bounds": [_finite(self.low), _finite(self.high)],
            **self.details,
        }


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


class StatTest(ABC):
    """One drift test. Subclasses set the class attributes and implement what their kinds need."""

    __test__ = False  # not a pytest class

    name: ClassVar[str]
    title: ClassVar[str]
    kinds: ClassVar[frozenset[Kind]]
    threshold: ClassVar[float]  # default
    uses_p_value: ClassVar[bool]  # drift when p < threshold; else when the statistic ≥ it

    def numerical(
        self,
        reference: NumericSketch,
        current: NumericSketch,
        reference_sorted: Floats | None = None,
        current_sorted: Floats | None = None,
    ) -> Estimate:
        """The statistic for a numerical column: exact when both sorted raw columns are given."""
        raise NotImplementedError(f"{self.name} does not test numerical columns")

    def categorical(self, reference: CategoricalSketch, current: CategoricalSketch) -> Estimate:
        """The statistic for a categorical column (category counts are exact)."""
        raise NotImplementedError(f"{self.name} does not test categorical columns")

    def p_value(self, statistic: float, n_reference: int, n_current: int) -> float | None:
        """The p-value of a statistic, for tests that have one."""
        return None

    def drifted(self, score: float, threshold: float) -> bool:
        # bool(): a statistic may be a numpy float, and numpy's bool_ is not JSON
        return bool(score < threshold) if self.uses_p_value else bool(score >= threshold)

    def judge(
        self, estimate: Estimate, threshold: float, n_reference: int, n_current: int
    ) -> TestResult:
        p = estimate.p_value
        if p is None:
            p = self.p_value(estimate.statistic, n_reference, n_current)
        score = p if p is not None else estimate.statistic
        drifted = self.drifted(score, threshold)
        certain = estimate.is_exact or all(
            self.drifted(self._score(bound, n_reference, n_current), threshold) == drifted
            for bound in (estimate.low, estimate.high)
        )
        return TestResult(
            test=self.name,
            statistic=estimate.statistic,
            p_value=p,
            score=score,
            threshold=threshold,
            drifted=drifted,
            exact=estimate.is_exact,
            certain=certain,
            low=estimate.low,
            high=estimate.high,
            details=estimate.details,
        )

    def _score(self, statistic: float, n_reference: int, n_current: int) -> float:
        p = self.p_value(statistic, n_reference, n_current)
        return p if p is not None else statistic

    @abstractmethod
    def describe(self) -> str:
        """One line for reports: what the statistic is and when it means drift."""


REGISTRY: dict[str, StatTest] = {}


def register(cls: type[StatTest]) -> type[StatTest]:
    """Class decorator: make a test available by its name."""
    if cls.name in REGISTRY:
        raise ValueError(f"a drift test named {cls.name!r} is already registered")
    REGISTRY[cls.name] = cls()
    return cls
