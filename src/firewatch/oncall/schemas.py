"""Pydantic shapes of overrides and of a schedule's status, for the API and the CLI."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from firewatch.oncall.schedules import OnCall


class OverrideIn(BaseModel):
    """Put ``person`` on call for a schedule from ``starts_at`` (default: now) to ``ends_at``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    person: str = Field(min_length=1, max_length=64, description="The stand-in's handle.")
    starts_at: AwareDatetime | None = Field(None, description="Default: now.")
    ends_at: AwareDatetime = Field(description="When the rotation takes over again.")
    reason: str = Field("", max_length=2000, description="Why, e.g. 'swap with bob'.")

    @field_validator("ends_at")
    @classmethod
    def _ends_after_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        starts_at = info.data.get("starts_at")
        if starts_at is not None and value <= starts_at:
            raise ValueError(
                f"must be after starts_at: {value.isoformat()} is not after {starts_at.isoformat()}"
            )
        return value


class OverrideState(StrEnum):
    ACTIVE = "active"
    PENDING = "pending"
    EXPIRED = "expired"


class OverrideOut(BaseModel):
    id: int
    schedule: str
    person: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime
    state: OverrideState


class ScheduleStatus(BaseModel):
    """A schedule at an instant: who is on call (and until when), and who is next."""

    schedule: str
    time_zone: str
    at: datetime
    on_call: OnCall
    next: OnCall
