"""Pydantic shapes of drill runs for the API and CLI."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MEASURES = ("detect", "notify", "acknowledge", "mitigate", "resolve")
"""The times a drill measures, each in seconds from the fault."""


class DrillTrigger(StrEnum):
    CLI = "cli"
    SCHEDULE = "schedule"
    API = "api"


class DrillOutcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ABORTED = "aborted"  # interrupted (Ctrl-C, the server stopping): no verdict


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DrillStartIn(_In):
    """A drill about to inject its fault: incidents for ``model`` belong to it from now on."""

    scenario: str = Field(min_length=1, max_length=64)
    model: str = Field(min_length=1, max_length=200)
    trigger: DrillTrigger = DrillTrigger.API
    time_limit_s: float = Field(gt=0, le=86_400, description="How long the drill may run.")
    game_day: str | None = Field(None, max_length=64, description="Groups a game day's drills.")


class DrillFinishIn(_In):
    """What the drill measured; the drill stops marking incidents."""

    outcome: DrillOutcome
    incident: str | None = Field(None, max_length=32, description="INC-YYYY-NNN")
    severity: str | None = Field(None, max_length=8)
    runbook: str | None = Field(None, max_length=100)
    times: dict[str, float | None] = Field(
        default_factory=dict, description="Seconds from the fault: " + ", ".join(MEASURES) + "."
    )
    failures: list[str] = Field(default_factory=list, max_length=100)
    details: dict[str, Any] = Field(default_factory=dict)


class DrillRunOut(BaseModel):
    id: int
    scenario: str
    model: str
    trigger: str
    status: str = Field(description="running, finished or abandoned")
    outcome: str | None = Field(description="pass, fail or aborted once finished")
    actor: str
    game_day: str | None
    started_at: datetime
    deadline_at: datetime
    finished_at: datetime | None
    incident: str | None
    severity: str | None
    runbook: str | None
    times: dict[str, float | None]
    failures: list[str]
    details: dict[str, Any]
