"""Rule semantics: for, keep_firing_for, thresholds, templates, built-ins and their overrides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from firewatch.config import FirewatchConfig
from firewatch.detect.rule_config import RuleConfig, builtin_rules, merge_rules
from firewatch.detect.rules import RuleTracker, render
from firewatch.detect.trackers import Transition

T0 = datetime(2026, 1, 15, 14, 30, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_for_needs_the_condition_to_hold_throughout() -> None:
    tracker = RuleTracker(for_=timedelta(seconds=60), keep_firing_for=timedelta(0))
    assert tracker.step(True, at(0)) is None
    assert tracker.step(True, at(30)) is None
    assert tracker.step(False, at(45)) is None  # the episode ends: pending starts over
    assert tracker.step(True, at(50)) is None
    assert tracker.step(True, at(100)) is None
    assert tracker.step(True, at(110)) is Transition.FIRE
    assert tracker.step(None, at(120)) is None  # no data changes nothing
    assert tracker.firing


def test_keep_firing_for_bridges_short_gaps() -> None:
    tracker = RuleTracker(for_=timedelta(0), keep_firing_for=timedelta(seconds=30))
    assert tracker.step(True, at(0)) is Transition.FIRE
    assert tracker.step(False, at(10)) is None
    assert tracker.step(True, at(20)) is None  # back before 30 s: still the same alert
    assert tracker.step(False, at(40)) is None
    assert tracker.step(False, at(50)) is Transition.CLEAR


def test_templates_fill_in_and_never_break() -> None:
    values = {"model": "iris", "value": 1.23456, "value_pct": "12.3%"}
    assert render("{model} at {value:.2f} ({value_pct})", values) == "iris at 1.23 (12.3%)"
    assert render("{unknown} stays", values) == "{unknown} stays"
    assert render("rate(x[5m]) {", values) == "rate(x[5m]) {"


def test_builtins_cover_the_seed_alerts_and_can_be_overridden_or_disabled() -> None:
    names = {rule.name: rule for rule in builtin_rules()}
    assert names["HighErrorRate"].threshold == 0.05 and names["HighErrorRate"].severity == "SEV2"
    assert names["AccuracyLow"].threshold == 0.85 and names["AccuracyLow"].condition == "below"
    assert names["SlowResponses"].severity == "SEV3"
    merged = merge_rules(
        [
            RuleConfig.model_validate(
                {"name": "HighErrorRate", "signal": "error_rate", "threshold": 0.02}
            ),
            RuleConfig.model_validate(
                {"name": "HighCPU", "signal": "cpu_fraction", "threshold": 1, "enabled": False}
            ),
            RuleConfig.model_validate(
                {"name": "ManyRequests", "signal": "request_rate", "threshold": 1000}
            ),
        ]
    )
    by_name = {rule.name: rule for rule in merged}
    assert by_name["HighErrorRate"].threshold == 0.02
    assert "HighCPU" not in by_name and "ManyRequests" in by_name


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ({"name": "x", "threshold": 1}, "either signal or promql"),
        ({"name": "x", "signal": "error_rate"}, "needs a threshold"),
        ({"name": "x", "promql": "up", "condition": "anomaly"}, "PromQL rules use thresholds"),
        ({"name": "x", "signal": "vibes", "threshold": 1}, "signal"),
    ],
)
def test_bad_rules_are_refused(rule: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        RuleConfig.model_validate(rule)


def test_promql_rules_need_a_prometheus() -> None:
    with pytest.raises(ValidationError, match="need a prometheus"):
        FirewatchConfig.model_validate(
            {"rules": [{"name": "x", "promql": "up == 0", "threshold": 0}]}
        )
