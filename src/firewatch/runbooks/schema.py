"""The runbook YAML format, validated with errors that name the file and the field.

::

    name: model-unavailable
    title: Model Service Unavailable
    alert: ModelUnavailable        # the alert it answers
    severity: SEV1
    response_time: 5m              # tighter than the severity's? it wins
    steps:
      - id: recent-deploy
        type: check                # check | action | manual | escalate
        uses: recent_deploy        # a registered step implementation
        with: {window: 30m}        # its parameters
        when:                      # all must hold, else the step is skipped
          - {step: verify-alert, outcome: passed}
          - {step: classify, output: {cause: model}}   # an earlier step's output
          - {severity: [SEV1, SEV2]}
        on_pass: mitigate          # mark the incident mitigated when this step passes
        next: {failed: escalate}   # branching: jump forward to a later step on an outcome
      - id: check-memory
        type: manual               # a checklist item a person ticks (CLI or API)
        title: Check memory/CPU of the pods
        blocking: false            # true: the run waits for it (until its timeout)
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from firewatch.config import format_validation_error
from firewatch.duration import Duration, parse_duration
from firewatch.errors import ConfigError
from firewatch.severity import Severity


class StepType(StrEnum):
    CHECK = "check"
    ACTION = "action"
    MANUAL = "manual"
    ESCALATE = "escalate"


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    PENDING = "pending"  # a checklist item nobody has ticked yet


class Condition(BaseModel):
    """One ``when`` clause: an earlier step's outcome (and output), the incident's severity, or
    whether the incident is mitigated."""

    model_config = ConfigDict(extra="forbid")

    step: str | None = None
    outcome: list[Outcome] = Field(default_factory=lambda: [Outcome.PASSED])
    output: dict[str, Any] | None = Field(
        None, description="Values the step's output must have (each key equal), e.g. {cause: data}."
    )
    mitigated: bool | None = None
    severity: list[Severity] | None = None

    @model_validator(mode="before")
    @classmethod
    def _outcome_list(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("outcome"), str):
            return {**data, "outcome": [data["outcome"]]}
        return data

    @model_validator(mode="before")
    @classmethod
    def _severity_list(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("severity"), str):
            return {**data, "severity": [data["severity"]]}
        return data

    @model_validator(mode="after")
    def _one_subject(self) -> Condition:
        subjects = [self.step is not None, self.mitigated is not None, self.severity is not None]
        if sum(subjects) != 1:
            raise ValueError(
                "a condition names exactly one of: step (with an outcome/output), mitigated, "
                "severity"
            )
        if self.output is not None and self.step is None:
            raise ValueError("output: needs the step whose output it checks")
        return self


DURATION_PARAMS = frozenset({"deadline", "interval", "sample", "timeout", "window"})
"""Step parameters that are durations wherever a step takes them: checked when the file loads,
not when the step first runs during an incident."""


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    type: StepType
    uses: str | None = Field(None, description="Step implementation (not for escalate).")
    params: dict[str, Any] = Field(default_factory=dict, alias="with")
    when: list[Condition] = Field(default_factory=list)
    on_pass: str | None = Field(None, pattern="^mitigate$")
    next: dict[Outcome, str] = Field(
        default_factory=dict,
        description="Branching: the later step to jump to on an outcome (passed/failed/skipped).",
    )
    verifies_alert: bool = Field(False, description="A pass confirms the alert is real.")
    timeout: Duration | None = Field(
        None,
        description="Give up after this long (default 2m for checks and actions; for a proposed "
        "action the approval wait is runbooks.policy.approval_timeout; a blocking manual step "
        "waits this long, default 30m).",
    )
    blocking: bool = Field(
        False, description="Manual steps only: the run waits until a person ticks it."
    )
    approval: bool | None = Field(
        None,
        description="Actions only: true always asks a person first, false never does; unset "
        "follows runbooks.policy for the incident's severity.",
    )
    details: str = Field("", description="What a person should do or look at (manual steps).")

    @model_validator(mode="after")
    def _uses(self) -> Step:
        needs = self.type in (StepType.CHECK, StepType.ACTION)
        if needs and not self.uses:
            raise ValueError(f"step {self.id!r}: a {self.type.value} step needs 'uses'")
        if not needs and self.uses:
            raise ValueError(f"step {self.id!r}: a {self.type.value} step takes no 'uses'")
        if self.blocking and self.type is not StepType.MANUAL:
            raise ValueError(f"step {self.id!r}: only manual steps can be blocking")
        if self.approval is not None and self.type is not StepType.ACTION:
            raise ValueError(f"step {self.id!r}: only actions take 'approval'")
        for name in sorted(DURATION_PARAMS & self.params.keys()):
            try:
                parse_duration(self.params[name])
            except (TypeError, ValueError, AttributeError) as exc:
                raise ValueError(f"step {self.id!r}: with.{name}: {exc}") from None
        return self

    @property
    def time_limit(self) -> timedelta:
        if self.timeout is not None:
            return self.timeout
        return timedelta(minutes=30) if self.type is StepType.MANUAL else timedelta(minutes=2)


class Runbook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    description: str = ""
    alert: list[str] = Field(
        default_factory=list, description="The alertname(s) this runbook answers."
    )
    severity: Severity | None = None
    response_time: Duration | None = None
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _alert_list(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("alert"), str):
            return {**data, "alert": [data["alert"]]}
        return data

    @model_validator(mode="after")
    def _references(self) -> Runbook:
        seen: set[str] = set()
        ids = [step.id for step in self.steps]
        for index, step in enumerate(self.steps):
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} is used twice")
            for condition in step.when:
                if condition.step is not None and condition.step not in seen:
                    raise ValueError(
                        f"step {step.id!r}: condition refers to {condition.step!r}, "
                        "which is not an earlier step"
                    )
            for outcome, target in step.next.items():
                if target not in ids[index + 1 :]:
                    raise ValueError(
                        f"step {step.id!r}: next.{outcome.value} goes to {target!r}, which is "
                        "not a later step (branches jump forward, so a run always ends)"
                    )
            seen.add(step.id)
        return self

    def index_of(self, step_id: str) -> int:
        return [step.id for step in self.steps].index(step_id)


def load_runbook_file(path: Path) -> Runbook:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read runbook: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    try:
        return Runbook.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid runbook:\n{format_validation_error(exc)}") from None
