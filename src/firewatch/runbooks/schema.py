"""The runbook YAML format, validated with errors that name the file and the field.

::

    name: model-unavailable
    title: Model Service Unavailable
    alert: ModelUnavailable        # the alert it answers
    severity: SEV1
    response_time: 5m              # tighter than the severity's? it wins
    steps:
      - id: recent-deploy
        type: check                # check | action | escalate
        uses: recent_deploy        # a registered step implementation
        with: {window: 30m}        # its parameters
        when:                      # all must hold, else the step is skipped
          - {step: verify-alert, outcome: passed}
        on_pass: mitigate          # mark the incident mitigated when this step passes
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from firewatch.config import format_validation_error
from firewatch.duration import Duration
from firewatch.errors import ConfigError
from firewatch.severity import Severity


class StepType(StrEnum):
    CHECK = "check"
    ACTION = "action"
    ESCALATE = "escalate"


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


class Condition(BaseModel):
    """One ``when`` clause: an earlier step's outcome, or whether the incident is mitigated."""

    model_config = ConfigDict(extra="forbid")

    step: str | None = None
    outcome: list[Outcome] = Field(default_factory=lambda: [Outcome.PASSED])
    mitigated: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _outcome_list(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("outcome"), str):
            return {**data, "outcome": [data["outcome"]]}
        return data

    @model_validator(mode="after")
    def _one_subject(self) -> Condition:
        if (self.step is None) == (self.mitigated is None):
            raise ValueError("a condition names either a step (with an outcome) or mitigated")
        return self


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    type: StepType
    uses: str | None = Field(None, description="Step implementation (not for escalate).")
    params: dict[str, Any] = Field(default_factory=dict, alias="with")
    when: list[Condition] = Field(default_factory=list)
    on_pass: str | None = Field(None, pattern="^mitigate$")
    verifies_alert: bool = Field(False, description="A pass confirms the alert is real.")
    timeout: Duration = timedelta(minutes=2)

    @model_validator(mode="after")
    def _uses(self) -> Step:
        if self.type is not StepType.ESCALATE and not self.uses:
            raise ValueError(f"step {self.id!r}: a {self.type.value} step needs 'uses'")
        return self


class Runbook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    description: str = ""
    alert: str | None = Field(None, description="The alertname this runbook answers.")
    severity: Severity | None = None
    response_time: Duration | None = None
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> Runbook:
        seen: set[str] = set()
        for step in self.steps:
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} is used twice")
            for condition in step.when:
                if condition.step is not None and condition.step not in seen:
                    raise ValueError(
                        f"step {step.id!r}: condition refers to {condition.step!r}, "
                        "which is not an earlier step"
                    )
            seen.add(step.id)
        return self


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
