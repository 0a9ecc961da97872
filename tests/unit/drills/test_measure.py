"""Judging a drill from the incident it produced: times from the fault, SLA, targets, and the
reasons a drill fails (wrong runbook, missing or out-of-order kinds, timeout, not marked)."""

from __future__ import annotations

from drill_incidents import FAULT, GOOD, incident

from firewatch.drills.measure import Observation, judge
from firewatch.drills.scenarios import SCENARIOS, in_order
from firewatch.drills.schemas import DrillOutcome


def test_a_drill_that_went_by_the_book_passes_with_its_times() -> None:
    verdict = judge(Observation(SCENARIOS["model-down"], FAULT, incident(GOOD)))
    assert verdict.outcome is DrillOutcome.PASS, verdict.failures
    assert verdict.times == {
        "detect": 2.0,
        "notify": 2.3,
        "acknowledge": 2.8,
        "mitigate": 9.0,
        "resolve": 20.0,
    }
    sla = verdict.details["sla"]
    assert sla["response_limit_s"] == 300 and sla["acknowledged_s"] == 0.8
    assert sla["response_met"] and sla["resolution_met"]
    assert [t["met"] for t in verdict.details["targets"]] == [True, True]
    assert verdict.details["timeline"][0] == {
        "t": 2.0,
        "kind": "detected",
        "event": "detected",
        "actor": "firewatch",
    }
    assert verdict.finish_body()["incident"] == "INC-2026-007"


def test_each_reason_for_failing_is_named() -> None:
    late = [(t + 10 if k != "detected" else 6.0, k) for t, k in GOOD if k != "verified"]
    observed = incident(late, runbook="something-else", drill=None, response_breached=True)
    verdict = judge(Observation(SCENARIOS["model-down"], FAULT, observed))
    assert verdict.outcome is DrillOutcome.FAIL
    text = "\n".join(verdict.failures)
    assert "wrong runbook: expected model-unavailable, ran something-else" in text
    assert "timeline: verified missing" in text
    assert "not marked as a drill" in text
    assert "response SLA missed (300s)" in text
    assert "target missed: model down detected < 5 s (took 6s)" in text
    assert "target missed: rolled back and verified < 30 s" not in text  # 19 s: met


def test_no_incident_and_timeouts_are_failures() -> None:
    nothing = judge(Observation(SCENARIOS["model-down"], FAULT, None))
    assert nothing.outcome is DrillOutcome.FAIL
    assert "no incident opened within 120s of the fault" in nothing.failures
    assert "target missed: model down detected < 5 s (took never)" in nothing.failures
    stuck = incident(GOOD[:7], status="acknowledged")
    verdict = judge(Observation(SCENARIOS["model-down"], FAULT, stuck, timed_out=True))
    assert "ended acknowledged, expected resolved" in verdict.failures
    assert "timed out: not resolved within 120s of the fault" in verdict.failures
    assert judge(Observation(SCENARIOS["model-down"], FAULT, stuck), aborted=True).outcome == (
        DrillOutcome.ABORTED
    )


def test_the_bad_version_target_counts_from_the_labels_arriving() -> None:
    entries = [
        (8, "detected"),
        (8.1, "runbook_started"),
        (8.5, "notified"),
        (9, "acknowledged"),
        (10, "check"),
        (11, "action_started"),
        (12, "action_succeeded"),
        (66, "mitigated"),
        (90, "resolved"),
    ]
    observed = incident(entries, runbook="accuracy-degradation", drill="bad-version")
    scenario = SCENARIOS["bad-version"]
    verdict = judge(Observation(scenario, FAULT, observed, label_delay_s=3.0))
    [target] = verdict.details["targets"]
    assert (target["measured_s"], target["met"]) == (63.0, False)
    assert verdict.outcome is DrillOutcome.FAIL


def test_the_drift_drill_needs_its_retraining_recorded() -> None:
    entries = [(5, "detected"), (5, "runbook_started"), (6, "notified"), (6.5, "acknowledged")]
    entries += [(7, "action_proposed"), (8, "action_approved"), (8, "action_started")]
    entries += [(9, "action_succeeded"), (60, "resolved")]
    observed = incident(entries, runbook="data-drift", drill="input-drift")
    scenario = SCENARIOS["input-drift"]
    assert (
        "no successful retrain action on the timeline"
        in judge(Observation(scenario, FAULT, observed)).failures
    )
    observed["timeline"][7]["details"] = {"step": "trigger-retraining", "uses": "retrain"}
    verdict = judge(Observation(scenario, FAULT, observed))
    assert verdict.outcome is DrillOutcome.PASS, verdict.failures


def test_in_order_allows_other_kinds_between_but_not_reordering() -> None:
    kinds = ["detected", "note", "mitigated", "verified", "resolved"]
    assert in_order(("detected", "mitigated", "resolved"), kinds) == []
    assert in_order(("detected", "verified", "mitigated"), kinds) == [
        "mitigated out of order (not after verified)"
    ]
    assert in_order(("detected", "escalated"), kinds) == ["escalated missing"]
