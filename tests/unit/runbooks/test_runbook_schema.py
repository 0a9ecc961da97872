"""Runbook YAML: the built-ins load; broken files get errors naming the file and the field."""

from __future__ import annotations

from pathlib import Path

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
        "recent-deploy",
        "rollback",
        "verify-recovery",
        "escalate",
    ]
    assert runbook.steps[0].verifies_alert
    assert runbook.steps[-1].type is StepType.ESCALATE
    for step in runbook.steps:
        assert step.uses is None or step.uses in STEPS, f"{step.id} uses an unregistered step"


def test_unknown_runbook_names_the_known_ones() -> None:
    with pytest.raises(NotFound, match="known: model-unavailable"):
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
    ],
)
def test_bad_runbooks_are_refused_with_the_file_and_field(
    tmp_path: Path, text: str, problem: str
) -> None:
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(ConfigError, match=problem) as info:
        RunbookLibrary.load(tmp_path)
    assert str(tmp_path / "bad.yaml") in info.value.message


def test_a_file_in_the_directory_replaces_a_builtin(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(
        "name: model-unavailable\ntitle: Ours\nsteps: [{id: page, title: Page, type: escalate}]\n"
    )
    assert RunbookLibrary.load(tmp_path).get("model-unavailable").title == "Ours"


def test_conditions() -> None:
    results = {"a": {"outcome": "passed"}, "b": {"outcome": "failed"}}
    assert condition_holds(Condition(step="a"), results, mitigated=False)
    assert not condition_holds(Condition(step="b"), results, mitigated=False)
    assert condition_holds(
        Condition.model_validate({"step": "b", "outcome": "failed"}), results, mitigated=False
    )
    assert not condition_holds(Condition(step="never-ran"), results, mitigated=False)
    assert condition_holds(Condition(mitigated=False), results, mitigated=False)
    with pytest.raises(ValueError, match="either a step"):
        Condition(step="a", mitigated=True)
