"""Pydantic shapes of incidents for the API and CLI: the seed's record plus model, signals and SLA."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from firewatch.people.schemas import PersonOut
from firewatch.severity import Severity


class Role(StrEnum):
    """Incident roles (Google SRE book)."""

    COMMANDER = "commander"
    OPERATIONS = "operations"
    COMMUNICATIONS = "communications"
    PLANNING = "planning"


def _severity(value: Any) -> Any:
    return Severity.parse(value) if isinstance(value, str) else value


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DeclareIn(_In):
    """A person reporting an incident."""

    title: str = Field(min_length=1, max_length=300)
    severity: Severity = Field(description="SEV1..SEV4 or CRITICAL/HIGH/MEDIUM/LOW.")
    description: str = Field("", max_length=20_000)
    model: str | None = Field(None, max_length=200, description="The affected model, if any.")
    model_version: str | None = Field(None, max_length=100)
    assigned_to: str | None = Field(None, description="Handle of the person who owns it.")

    _sev = field_validator("severity", mode="before")(_severity)


class TransitionIn(_In):
    status: str = Field(description="Target status, e.g. 'investigating' or 'resolved'.")
    note: str | None = Field(None, max_length=20_000)
    resolution: str | None = Field(None, max_length=20_000)


class SeverityIn(_In):
    severity: Severity
    reason: str | None = Field(None, max_length=2000, description="Required when lowering.")

    _sev = field_validator("severity", mode="before")(_severity)


class AssignIn(_In):
    person: str = Field(description="Handle of a known person.")
    role: Role | None = Field(None, description="Give a role instead of ownership.")


class NoteIn(_In):
    text: str = Field(min_length=1, max_length=20_000)


class UpdateIn(_In):
    title: str | None = Field(None, min_length=1, max_length=300)
    description: str | None = Field(None, max_length=20_000)
    root_cause: str | None = Field(None, max_length=20_000)
    resolution: str | None = Field(None, max_length=20_000)


class TimelineEntryOut(BaseModel):
    time: datetime
    kind: str
    event: str
    actor: str
    details: dict[str, Any] = Field(default_factory=dict)


class SlaOut(BaseModel):
    response_due_at: datetime
    resolution_due_at: datetime
    response_breached: bool
    resolution_breached: bool
    breached: bool


class IncidentSummary(BaseModel):
    id: str = Field(description="INC-YYYY-NNN")
    timestamp: datetime = Field(description="When the incident was opened.")
    severity: Severity
    title: str
    status: str
    model: str | None
    model_version: str | None
    assigned_to: str | None = Field(description="Handle of the owner.")
    sla: SlaOut


class IncidentOut(IncidentSummary):
    description: str
    source: str
    runbook: str | None
    assignee: PersonOut | None
    roles: dict[str, PersonOut]
    signals: list[dict[str, Any]]
    labels: dict[str, str]
    root_cause: str | None
    resolution: str | None
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    resolution_time_minutes: float | None
    timeline: list[TimelineEntryOut]


class IncidentPage(BaseModel):
    items: list[IncidentSummary]
    total: int
    limit: int
    offset: int


class SeverityStats(BaseModel):
    count: int
    open: int
    mtta_minutes: float | None
    mttr_minutes: float | None
    response_sla_met: float | None = Field(description="Share of responses within the deadline.")
    resolution_sla_met: float | None


class StatsOut(BaseModel):
    since: datetime | None
    until: datetime | None
    count: int
    open: int
    mtta_minutes: float | None = Field(description="Mean time from opened to acknowledged.")
    mttm_minutes: float | None = Field(description="Mean time from opened to mitigated.")
    mttr_minutes: float | None = Field(description="Mean time from opened to resolved.")
    response_sla_met: float | None
    resolution_sla_met: float | None
    by_severity: dict[str, SeverityStats]
