"""Severity levels SEV1..SEV4, the seed's policy table as data, and the signal classifier.

The classifier turns what was observed about a model (is it up, what share of requests fail,
how far did accuracy fall, is it slow) into a severity. Decisions the seed leaves open:

* **Failure rate above 50% but below 100%** (e.g. 60%): SEV1. The seed's bands stop at 50%
  (SEV2) and resume at 100% (SEV1); when in doubt we take the higher severity, and a model
  failing most requests is down for most users.
* **Band edges are inclusive upwards**: exactly 25% and exactly 50% are SEV2 ("25-50%");
  anything above 0% and below 25% is SEV3.
* **"Accuracy drop > 10%"** is read both as percentage points and as a relative drop, and the
  reading giving the higher severity wins. Accuracy is at most 100%, so the relative drop is
  never smaller than the drop in points: in practice a relative drop of 10% or more is SEV2
  (90% -> 81% is 9 points but 10% relative: SEV2). A drop of exactly 10 counts (when in doubt,
  the higher severity). A smaller drop is SEV3 (minor, some users).
* **Slow responses** are SEV3; a signal with no user impact is SEV4.

A rule may name a severity; the classifier may raise it, never lower it (`effective_severity`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from firewatch.duration import Duration

_EPSILON = 1e-9
_NO_SIGNAL = ("no user impact", "no user-facing signal")


class Severity(StrEnum):
    """Incident severity; SEV1 is the most severe."""

    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"
    SEV4 = "SEV4"

    @property
    def rank(self) -> int:
        """1 for SEV1 (most severe) .. 4 for SEV4."""
        return RANK[self]

    @property
    def seed_name(self) -> str:
        """The seed's name for this level: CRITICAL, HIGH, MEDIUM or LOW."""
        return _SEED_NAMES[self]

    def is_higher_than(self, other: Severity) -> bool:
        return self.rank < other.rank

    @classmethod
    def parse(cls, value: str | Severity) -> Severity:
        """Accept ``SEV1``..``SEV4`` (any case), ``1``..``4`` and the aliases CRITICAL/HIGH/MEDIUM/LOW."""
        if isinstance(value, Severity):
            return value
        found = _EXACT.get(value)
        if found is not None:  # the common case, on the ingest hot path: no string work
            return found
        key = str(value).strip().upper()
        if key in cls.__members__:
            return cls[key]
        if key in {"1", "2", "3", "4"}:
            return cls(f"SEV{key}")
        if key in _ALIASES:
            return _ALIASES[key]
        raise ValueError(
            f"unknown severity {value!r}: expected SEV1..SEV4 or CRITICAL, HIGH, MEDIUM, LOW"
        )


_SEED_NAMES = {
    Severity.SEV1: "CRITICAL",
    Severity.SEV2: "HIGH",
    Severity.SEV3: "MEDIUM",
    Severity.SEV4: "LOW",
}
_ALIASES = {name: sev for sev, name in _SEED_NAMES.items()}
RANK: dict[Severity, int] = {s: int(s.value[-1]) for s in Severity}
"""1 for SEV1 .. 4 for SEV4 (a dict: faster than the property on hot paths)."""
_EXACT: dict[str, Severity] = {s.value: s for s in Severity}


FOREIGN_SEVERITIES: dict[str, Severity] = {
    # Prometheus / Alertmanager rule conventions, PagerDuty's critical|error|warning|info, P1..P5.
    **dict.fromkeys(("critical", "page", "emergency", "fatal", "disaster", "p1"), Severity.SEV1),
    **dict.fromkeys(("error", "high", "major", "p2"), Severity.SEV2),
    **dict.fromkeys(("warning", "warn", "medium", "minor", "average", "p3"), Severity.SEV3),
    **dict.fromkeys(
        ("info", "informational", "low", "notice", "none", "ok", "p4", "p5"), Severity.SEV4
    ),
}
"""How other tools' severity words map onto SEV1..SEV4 (documented in docs/severity.md)."""


def foreign_severity(value: str | None) -> Severity | None:
    """SEV1..SEV4 for another tool's severity word; None when absent or unknown."""
    if not value:
        return None
    word = value.strip().lower()
    if word in FOREIGN_SEVERITIES:
        return FOREIGN_SEVERITIES[word]
    try:
        return Severity.parse(word)
    except ValueError:
        return None


def highest(*severities: Severity | None) -> Severity:
    """The most severe of the given severities (None entries are ignored)."""
    present = [s for s in severities if s is not None]
    if not present:
        raise ValueError("highest() needs at least one severity")
    return min(present, key=lambda s: s.rank)


class SeverityLevel(BaseModel):
    """One row of the severity table."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="The seed's name for the level (CRITICAL, HIGH, ...).")
    criteria: list[str] = Field(description="What puts an incident at this level.")
    response: str = Field(description="The response target as the seed words it.")
    response_time: Duration = Field(description="Acknowledge within this long.")
    resolution_time: Duration = Field(description="Resolve within this long.")
    example: str = Field(description="A typical incident of this level.")


def _level(
    name: str, criteria: list[str], response: str, respond: int, resolve: int, example: str
) -> dict[str, Any]:
    return {
        "name": name,
        "criteria": criteria,
        "response": response,
        "response_time": timedelta(minutes=respond),
        "resolution_time": timedelta(minutes=resolve),
        "example": example,
    }


DEFAULT_LEVELS: dict[Severity, dict[str, Any]] = {
    Severity.SEV1: _level(
        "CRITICAL",
        [
            "Model completely unavailable",
            "Service down or 100% failure rate",
            "Customer-facing impact",
        ],
        "Immediate (page on-call); acknowledged within 5 minutes",
        5,
        30,
        "API returning 500 errors",
    ),
    Severity.SEV2: _level(
        "HIGH",
        [
            "Significant performance degradation",
            "25-50% failure rate or accuracy drop > 10%",
            "Some customer impact",
        ],
        "< 30 minutes",
        30,
        120,
        "Accuracy drops from 90% to 78%",
    ),
    Severity.SEV3: _level(
        "MEDIUM",
        ["Minor issues affecting some users", "< 25% failure rate", "Workaround exists"],
        "< 2 hours",
        120,
        24 * 60,
        "Slow response times",
    ),
    Severity.SEV4: _level(
        "LOW",
        ["No user impact", "Feature request or non-critical bug"],
        "< 1 day",
        24 * 60,
        7 * 24 * 60,
        "Logging format inconsistency",
    ),
}


class SeverityBands(BaseModel):
    """Numeric edges the classifier uses; the defaults are the seed's table."""

    model_config = ConfigDict(extra="forbid")

    sev1_failure_rate_above: float = Field(
        0.5, ge=0, le=1, description="A failure rate above this (fraction) is SEV1."
    )
    sev2_failure_rate_from: float = Field(
        0.25, ge=0, le=1, description="A failure rate at or above this (fraction) is SEV2."
    )
    sev2_accuracy_drop_percent: float = Field(
        10.0, ge=0, description="An accuracy drop of at least this many percent is SEV2."
    )


class SeverityPolicy(BaseModel):
    """The severity table plus the classifier's bands; config overrides any field of any level."""

    model_config = ConfigDict(extra="forbid")

    levels: dict[Severity, SeverityLevel] = Field(default_factory=dict)
    bands: SeverityBands = Field(default_factory=SeverityBands)

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        given = data.get("levels") or {}
        if not isinstance(given, dict):
            return data
        merged: dict[Any, Any] = {}
        for sev, defaults in DEFAULT_LEVELS.items():
            override: Any = next(
                (v for k, v in given.items() if _same_severity(k, sev)),
                {},
            )
            merged[sev] = {**defaults, **override} if isinstance(override, dict) else override
        unknown = [k for k in given if not any(_same_severity(k, s) for s in Severity)]
        for key in unknown:
            merged[key] = given[key]  # let validation name the bad key
        return {**data, "levels": merged}

    def level(self, severity: Severity) -> SeverityLevel:
        return self.levels[severity]

    def response_deadline(
        self, severity: Severity, opened_at: datetime, runbook_response: timedelta | None = None
    ) -> datetime:
        """When the incident must be acknowledged: the tighter of the level's and the runbook's."""
        limit = self.level(severity).response_time
        if runbook_response is not None:
            limit = min(limit, runbook_response)
        return opened_at + limit

    def resolution_deadline(self, severity: Severity, opened_at: datetime) -> datetime:
        return opened_at + self.level(severity).resolution_time


def _same_severity(key: Any, sev: Severity) -> bool:
    try:
        return Severity.parse(str(key)) is sev
    except ValueError:
        return False


class Signals(BaseModel):
    """What was observed about a model; every field optional. Rates are fractions (0.25 = 25%)."""

    model_config = ConfigDict(extra="forbid")

    available: bool | None = Field(None, description="False when the service is down.")
    failure_rate: float | None = Field(None, ge=0, le=1, description="Share of failed requests.")
    accuracy: float | None = Field(None, ge=0, le=1, description="Current accuracy.")
    baseline_accuracy: float | None = Field(
        None, gt=0, le=1, description="Accuracy the model is expected to have."
    )
    slow: bool | None = Field(None, description="True when responses are slower than the target.")
    user_impact: bool | None = Field(None, description="False when users are not affected.")


class Classification(BaseModel):
    """A severity and the reasons (one per matched band) behind it."""

    severity: Severity
    reasons: list[str]


def accuracy_drop_percent(accuracy: float, baseline: float) -> tuple[float, float]:
    """(drop in percentage points, relative drop in percent) from ``baseline`` to ``accuracy``."""
    points = (baseline - accuracy) * 100
    relative = (baseline - accuracy) / baseline * 100
    return points, relative


def classify(signals: Signals, policy: SeverityPolicy | None = None) -> Classification:
    """Map observed signals to a severity using the policy's bands (see the module docstring)."""
    bands = (policy or DEFAULT_POLICY).bands
    found: list[tuple[Severity, str]] = []
    if signals.available is False:
        found.append((Severity.SEV1, "service down (health check failing)"))
    rate = signals.failure_rate
    if rate is not None and rate > 0:
        pct = f"{rate * 100:.1f}%"
        if rate >= 1 - _EPSILON:
            found.append((Severity.SEV1, f"{pct} of requests failing"))
        elif rate > bands.sev1_failure_rate_above + _EPSILON:
            found.append(
                (
                    Severity.SEV1,
                    f"{pct} of requests failing (above "
                    f"{bands.sev1_failure_rate_above * 100:g}%: most users affected)",
                )
            )
        elif rate >= bands.sev2_failure_rate_from - _EPSILON:
            found.append((Severity.SEV2, f"{pct} of requests failing"))
        else:
            found.append((Severity.SEV3, f"{pct} of requests failing"))
    if signals.accuracy is not None and signals.baseline_accuracy is not None:
        points, relative = accuracy_drop_percent(signals.accuracy, signals.baseline_accuracy)
        drop = max(points, relative)
        text = (
            f"accuracy {signals.accuracy * 100:.1f}% vs baseline "
            f"{signals.baseline_accuracy * 100:.1f}% ({points:.1f} points, {relative:.1f}% relative)"
        )
        if drop >= bands.sev2_accuracy_drop_percent - _EPSILON:
            found.append((Severity.SEV2, text))
        elif drop > _EPSILON:
            found.append((Severity.SEV3, text))
    if signals.slow:
        found.append((Severity.SEV3, "slow responses"))
    if not found:
        reason = _NO_SIGNAL[0] if signals.user_impact is False else _NO_SIGNAL[1]
        return Classification(severity=Severity.SEV4, reasons=[reason])
    top = highest(*(sev for sev, _ in found))
    return Classification(severity=top, reasons=[why for sev, why in found if sev is top])


def effective_severity(
    rule_severity: Severity | None, signals: Signals, policy: SeverityPolicy | None = None
) -> Classification:
    """The rule's severity, raised (never lowered) by what the classifier sees in the signals."""
    classified = classify(signals, policy)
    if rule_severity is None or classified.severity.is_higher_than(rule_severity):
        if rule_severity is not None:
            return Classification(
                severity=classified.severity,
                reasons=[*classified.reasons, f"raised from the rule's {rule_severity}"],
            )
        return classified
    observed = [r for r in classified.reasons if r not in _NO_SIGNAL]
    return Classification(
        severity=rule_severity,
        reasons=observed or [f"the alert rule's severity is {rule_severity}"],
    )


DEFAULT_POLICY = SeverityPolicy()
