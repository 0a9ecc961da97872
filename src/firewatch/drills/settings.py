"""The config's ``drills:`` section: cron schedules of regular drills, their target, and where a
scheduled game day writes its report. Cron expressions are checked when the config loads.

::

    drills:
      schedule:
        - {cron: "0 10 * * MON", scenario: all}      # a game day every Monday at 10:00
        - {cron: "30 9 1 * *", scenario: model-down, time_zone: Europe/Berlin}
      target: {model: cancer-detector, model_url: http://127.0.0.1:8081}
      report: docs/drills.md                          # scheduled game days rewrite it
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from firewatch.drills.scenarios import ALL, SCENARIOS
from firewatch.duration import Duration


def next_due(cron: str, zone: str, after: datetime) -> datetime:
    """The first time after ``after`` that ``cron`` names, read in time zone ``zone`` (UTC out)."""
    tz = ZoneInfo(zone)
    start = after.astimezone(tz).replace(microsecond=0)
    due: datetime = next(iter(CronSim(cron, start)))
    return due.astimezone(ZoneInfo("UTC"))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DrillSchedule(_Section):
    """When a drill (or a whole game day) runs by itself."""

    cron: str = Field(description="Five-field cron expression, e.g. '0 10 * * MON'.")
    scenario: str = Field(ALL, description="A scenario name, or 'all' for a game day.")
    time_zone: str = Field("UTC", description="The zone the cron expression is read in.")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            CronSim(value, datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC")))
        except CronSimError as exc:
            raise ValueError(
                f"not a valid cron expression {value!r} ({exc}); expected five fields: minute "
                "hour day-of-month month day-of-week, e.g. '0 10 * * MON'"
            ) from None
        return value

    @field_validator("scenario")
    @classmethod
    def _scenario(cls, value: str) -> str:
        if value != ALL and value not in SCENARIOS:
            raise ValueError(
                f"unknown drill scenario {value!r}: expected {ALL} or one of "
                + ", ".join(SCENARIOS)
            )
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. UTC, Europe/Berlin)") from None
        return value

    @property
    def key(self) -> str:
        return f"{self.cron}|{self.scenario}|{self.time_zone}"


class DrillTargetConfig(_Section):
    """What scheduled drills run against (the CLI's defaults too)."""

    model: str | None = Field(None, description="The model (default: the only one configured).")
    model_url: HttpUrl | None = Field(
        None, description="Its service's base URL with /admin/faults (default: from models:)."
    )
    api_url: HttpUrl | None = Field(
        None, description="Firewatch's API as the drill reaches it (default: server.host:port)."
    )


class DrillsConfig(_Section):
    """Regular drill exercises: cron schedules, their target and where game days report."""

    schedule: list[DrillSchedule] = Field(default_factory=list)
    target: DrillTargetConfig = Field(default_factory=DrillTargetConfig)
    report: Path | None = Field(
        None, description="A scheduled game day writes its Markdown report (and PNG) here."
    )
    max_lateness: Duration = Field(
        timedelta(hours=1),
        description="A scheduled drill found this much overdue (the server was down) is skipped.",
    )

    def check(self, models: list[str]) -> None:
        """Cross-check against the configured models (ValueError naming the field)."""
        if self.target.model is not None and self.target.model not in models:
            raise ValueError(
                f"drills.target.model: no model {self.target.model!r} under models "
                f"(defined: {', '.join(models) or 'none'})"
            )
        if self.schedule and self.target.model is None and len(models) != 1:
            raise ValueError(
                "drills.target.model: scheduled drills need a target model when there is not "
                "exactly one model under models"
            )
