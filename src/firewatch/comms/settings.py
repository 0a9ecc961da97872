"""The config's ``comms:`` section."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from firewatch.duration import Duration
from firewatch.severity import Severity


class CommsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status_update_every: dict[Severity, Duration] = Field(
        default_factory=lambda: {
            Severity.SEV1: timedelta(minutes=15),
            Severity.SEV2: timedelta(minutes=15),
        },
        description="How often stakeholders hear of an open incident, per severity (the seed: "
        "every 15 minutes); the incident commander is reminded when an update is overdue. A "
        "severity not listed gets no reminders.",
    )
