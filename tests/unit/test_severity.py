"""The seed's severity table as data, and every band edge of the classifier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from firewatch.severity import (
    DEFAULT_POLICY,
    Severity,
    SeverityPolicy,
    Signals,
    classify,
    effective_severity,
    highest,
)


def sev(**signals: object) -> Severity:
    return classify(Signals.model_validate(signals)).severity


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("CRITICAL", Severity.SEV1),
        ("high", Severity.SEV2),
        ("Medium", Severity.SEV3),
        ("LOW", Severity.SEV4),
        ("sev2", Severity.SEV2),
        ("3", Severity.SEV3),
    ],
)
def test_seed_names_are_aliases(alias: str, expected: Severity) -> None:
    assert Severity.parse(alias) is expected
    assert expected.seed_name == {1: "CRITICAL", 2: "HIGH", 3: "MEDIUM", 4: "LOW"}[expected.rank]


def test_unknown_severity_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"expected SEV1\.\.SEV4 or CRITICAL, HIGH, MEDIUM, LOW"):
        Severity.parse("P0")


def test_default_table_is_the_seed() -> None:
    table = {s: DEFAULT_POLICY.level(s) for s in Severity}
    assert table[Severity.SEV1].response_time == timedelta(minutes=5)  # "Immediate" = 5 min
    assert table[Severity.SEV1].resolution_time == timedelta(minutes=30)
    assert table[Severity.SEV2].response_time == timedelta(minutes=30)
    assert table[Severity.SEV2].resolution_time == timedelta(hours=2)
    assert table[Severity.SEV3].response_time == timedelta(hours=2)
    assert table[Severity.SEV3].resolution_time == timedelta(days=1)
    assert table[Severity.SEV4].response_time == timedelta(days=1)
    assert table[Severity.SEV4].resolution_time == timedelta(weeks=1)
    assert table[Severity.SEV1].example == "API returning 500 errors"
    assert table[Severity.SEV2].example == "Accuracy drops from 90% to 78%"
    assert table[Severity.SEV3].example == "Slow response times"
    assert table[Severity.SEV4].example == "Logging format inconsistency"
    assert "Model completely unavailable" in table[Severity.SEV1].criteria


def test_config_overrides_one_field_and_keeps_the_rest() -> None:
    policy = SeverityPolicy.model_validate({"levels": {"HIGH": {"response_time": "15m"}}})
    assert policy.level(Severity.SEV2).response_time == timedelta(minutes=15)
    assert policy.level(Severity.SEV2).resolution_time == timedelta(hours=2)
    assert policy.level(Severity.SEV1).response_time == timedelta(minutes=5)


def test_config_rejects_unknown_level_and_bad_duration() -> None:
    with pytest.raises(ValidationError):
        SeverityPolicy.model_validate({"levels": {"SEV9": {"response_time": "1m"}}})
    with pytest.raises(ValidationError, match="duration"):
        SeverityPolicy.model_validate({"levels": {"SEV1": {"response_time": "soon"}}})


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        (1.0, Severity.SEV1),  # 100% failure rate
        (0.6, Severity.SEV1),  # the seed's gap: above 50% is SEV1 (higher when in doubt)
        (0.5000001, Severity.SEV1),
        (0.5, Severity.SEV2),  # "25-50%" includes 50
        (0.25, Severity.SEV2),  # ... and 25
        (0.2499999, Severity.SEV3),  # "< 25%"
        (0.01, Severity.SEV3),
        (0.0, Severity.SEV4),  # no failures: no user impact
    ],
)
def test_failure_rate_bands(rate: float, expected: Severity) -> None:
    assert sev(failure_rate=rate) is expected


def test_rate_computed_from_counts_hits_the_edge_exactly() -> None:
    assert sev(failure_rate=1 / 4) is Severity.SEV2
    assert sev(failure_rate=(0.1 + 0.15)) is Severity.SEV2
    assert sev(failure_rate=50 / 100) is Severity.SEV2


def test_service_down_is_sev1() -> None:
    assert sev(available=False) is Severity.SEV1


@pytest.mark.parametrize(
    ("baseline", "accuracy", "expected"),
    [
        (0.90, 0.78, Severity.SEV2),  # the seed's example: 12 points, 13.3% relative
        (0.90, 0.81, Severity.SEV2),  # 9 points but exactly 10% relative: counts
        (0.90, 0.80, Severity.SEV2),  # exactly 10 points
        (1.00, 0.90, Severity.SEV2),  # exactly 10 points and exactly 10% relative
        (0.90, 0.8101, Severity.SEV3),  # 9.99% relative: minor
        (0.90, 0.89, Severity.SEV3),
        (0.90, 0.90, Severity.SEV4),  # no drop
        (0.90, 0.95, Severity.SEV4),  # better than baseline
    ],
)
def test_accuracy_drop_bands(baseline: float, accuracy: float, expected: Severity) -> None:
    assert sev(accuracy=accuracy, baseline_accuracy=baseline) is expected


def test_slow_is_sev3_and_no_impact_is_sev4() -> None:
    assert sev(slow=True) is Severity.SEV3
    assert sev(user_impact=False) is Severity.SEV4
    assert classify(Signals(user_impact=False)).reasons == ["no user impact"]


def test_highest_signal_wins_and_reasons_explain() -> None:
    result = classify(Signals(failure_rate=0.3, slow=True))
    assert result.severity is Severity.SEV2
    assert result.reasons == ["30.0% of requests failing"]


def test_rule_severity_is_raised_never_lowered() -> None:
    # The seed's "error rate > 5% -> HIGH" alert vs its "< 25% -> SEV3" row: HIGH stands.
    kept = effective_severity(Severity.SEV2, Signals(failure_rate=0.06))
    assert kept.severity is Severity.SEV2
    assert kept.reasons == ["6.0% of requests failing"]
    assert effective_severity(Severity.SEV3, Signals()).reasons == [
        "the alert rule's severity is SEV3"
    ]
    raised = effective_severity(Severity.SEV2, Signals(failure_rate=0.7))
    assert raised.severity is Severity.SEV1
    assert "raised from the rule's SEV2" in raised.reasons
    assert effective_severity(None, Signals(slow=True)).severity is Severity.SEV3


def test_runbook_response_time_tighter_wins() -> None:
    opened = datetime(2026, 1, 15, 14, 30, tzinfo=UTC)
    policy = DEFAULT_POLICY
    # Accuracy Degradation runbook says < 1 hour; SEV2 says 30 minutes: 30 minutes.
    assert policy.response_deadline(
        Severity.SEV2, opened, timedelta(hours=1)
    ) == opened + timedelta(minutes=30)
    # Model Unavailable says < 5 minutes for SEV1 (which is 5 minutes): 5 minutes.
    assert policy.response_deadline(
        Severity.SEV1, opened, timedelta(minutes=5)
    ) == opened + timedelta(minutes=5)
    assert policy.response_deadline(
        Severity.SEV3, opened, timedelta(minutes=30)
    ) == opened + timedelta(minutes=30)


def test_highest() -> None:
    assert highest(Severity.SEV3, None, Severity.SEV1, Severity.SEV2) is Severity.SEV1
    with pytest.raises(ValueError, match="at least one"):
        highest()
