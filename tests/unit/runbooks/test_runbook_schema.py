"""Runbook YAML: the built-ins load; broken files get errors naming the file and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from firewatch.errors import ConfigError, NotFound
from firewatch.runbooks.engine import condition_holds
from firewatch.runbooks.library import RunbookLibrary
from firewatch.runbooks.schema import Condition, StepType
from firewatch.runbooks.steps import STEPS


def test_builtin_model_unavailable_follows_the_seed() -> None:
    library = RunbookLibrary.load()
    runbook = library.get("model-unavailable")
    assert runbook.severity is not None and runbook.severity.value == "SEV1"
    assert library.response_time("model-unavailable") is not None
    assert library.response_time("model-unavailable").total_seconds() == 300  # type: ignore[union-attr]
    assert [s.id for s in runbook.steps] == [
        "verify-alert",
        "check-logs",
        "recent-deploy",
        "check-resources",
        "check-database",
        "rollback",
        "verify-recovery",
        "escalate",
        "restart",
        "verify-restart",
    ]
    assert runbook.steps[0].verifies_alert
    assert runbook.alert == ["ModelUnavailable"]


@pytest.mark.parametrize(
    ("name", "alerts"),
    [
        ("model-unavailable", ["ModelUnavailable"]),
        ("high-error-rate", ["HighErrorRate", "ErrorRateAnomaly"]),
        ("accuracy-degradation", ["AccuracyLow"]),
        ("slow-responses", ["SlowResponses"]),
        ("data-drift", ["DataDrift", "PredictionDrift", "DataQuality"]),
    ],
)
def test_every_builtin_is_bound_to_its_alerts_and_uses_registered_steps(
    name: str, alerts: list[str]
) -> None:
    library = RunbookLibrary.load()
    runbook = library.get(name)
    for alert in alerts:
        assert library.for_alert(alert) == name
    for step in runbook.steps:
        assert step.uses is None or step.uses in STEPS, f"{step.id} uses an unregistered step"
    assert any(s.type is StepType.MANUAL for s in runbook.steps), "the seed's manual checks"


def test_accuracy_degradation_has_the_seeds_three_horizons() -> None:
    titles = [s.title for s in RunbookLibrary.load().get("accuracy-degradation").steps]
    for horizon in ("Short-term", "Medium-term", "Long-term"):
        assert any(t.startswith(horizon) for t in titles), horizon


def test_unknown_runbook_names_the_known_ones() -> None:
    with pytest.raises(NotFound, match="known: accuracy-degradation, data-drift"):
        RunbookLibrary.load().get("nope")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("name: x\ntitle: t\nsteps: [", "not valid YAML"),
        ("name: x\ntitle: t\nsteps: []", "steps"),
        ("name: x\ntitle: t\nsteps: [{id: a, title: A, type: check}]", "needs 'uses'"),
        (
            "name: x\ntitle: t\nsteps: [{id: a, title: A, type: cheque, uses: http_health}]",
            "steps.0.type",
        ),
        (
            "name: x\ntitle: t\nsteps: [{id: a, title: A, type: check, uses: http_health, when: [{step: b}]}]",
            "not an earlier step",
        ),
        (
            "name: x\ntitle: t\nsteps: [{id: a, title: A, type: check, uses: http_health}, {id: a, title: B, type: escalate}]",
            "used twice",
        ),
        (
            "name: x\ntitle: t\nresponse_time: soon\nsteps: [{id: a, title: A, type: escalate}]",
            "response_time",
        ),
        (
            "name: x\ntitle: t\nsteps: [{id: a, title: A, type: check, uses: health_recovers, with: {deadline: soon}}]",
            "step 'a': with.deadline: expected a duration such as '30s'",
        ),
    ],
)
def test_bad_runbooks_are_refused_with_the_file_and_field(
    tmp_path: Path, text: str, problem: str
) -> None:
    """A broken file does not stop the others loading; using it raises its error."""
    (tmp_path / "bad.yaml").write_text(text)
    library = RunbookLibrary.load(tmp_path)
    (name,) = library.broken
    assert library.known(name) and name not in library.names()
    with pytest.raises(ConfigError, match=problem) as info:
        library.get(name)
    assert str(tmp_path / "bad.yaml") in info.value.message
    assert library.get("model-unavailable").name == "model-unavailable"


def test_a_file_in_the_directory_replaces_a_builtin(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(
        "name: model-unavailable\ntitle: Ours\nsteps: [{id: page, title: Page, type: escalate}]\n"
    )
    assert RunbookLibrary.load(tmp_path).get("model-unavailable").title == "Ours"


def test_conditions() -> None:
    results: dict[str, dict[str, Any]] = {
        "a": {"outcome": "passed", "output": {"cause": "model"}},
        "b": {"outcome": "failed"},
    }

    def holds(condition: Condition, severity: str = "SEV2") -> bool:
        return condition_holds(condition, results, False, severity)

    assert holds(Condition(step="a"))
    assert not holds(Condition(step="b"))
    assert holds(Condition.model_validate({"step": "b", "outcome": "failed"}))
    assert not holds(Condition(step="never-ran"))
    assert holds(Condition(mitigated=False))
    assert holds(Condition.model_validate({"step": "a", "output": {"cause": "model"}}))
    assert not holds(Condition.model_validate({"step": "a", "output": {"cause": "data"}}))
    assert holds(Condition.model_validate({"severity": ["SEV1", "SEV2"]}))
    assert not holds(Condition.model_validate({"severity": "SEV1"}))
    with pytest.raises(ValueError, match="exactly one of"):
        Condition(step="a", mitigated=True)
    with pytest.raises(ValueError, match="needs the step"):
        Condition.model_validate({"mitigated": False, "output": {"x": 1}})


def test_branches_only_jump_forward(tmp_path: Path) -> None:
    (tmp_path / "loop.yaml").write_text(
        "name: loop\ntitle: t\nsteps:\n"
        "  - {id: a, title: A, type: check, uses: http_health}\n"
        "  - {id: b, title: B, type: check, uses: http_health, next: {failed: a}}\n"
    )
    with pytest.raises(ConfigError, match="not a later step"):
        RunbookLibrary.load(tmp_path).get("loop")


def test_manual_and_approval_fields_are_checked(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(
        "name: m\ntitle: t\nsteps:\n"
        "  - {id: a, title: A, type: check, uses: http_health, blocking: true}\n"
    )
    with pytest.raises(ConfigError, match="only manual steps can be blocking"):
        RunbookLibrary.load(tmp_path).get("m")
