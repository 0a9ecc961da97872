"""What keeps a firing alert from opening or joining an incident: silences, maintenance windows
and inhibition rules. A suppressed alert is still stored (with the reason), never dropped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from firewatch.alerts.matchers import Matcher, match_all, parse_matchers

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _checked_matchers(values: list[str]) -> list[str]:
    parse_matchers(values)  # raises with the offending matcher named
    return values


class WeeklyWindow(BaseModel):
    """Every week on ``days`` from ``start`` to ``end`` local time (may cross midnight)."""

    model_config = ConfigDict(extra="forbid")

    days: list[str] = Field(min_length=1, description="mon, tue, ... sun")
    start: time
    end: time
    timezone: str = "UTC"

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        bad = [d for d in value if d.lower()[:3] not in DAYS]
        if bad:
            raise ValueError(f"unknown day(s) {bad}: use {', '.join(DAYS)}")
        return [d.lower()[:3] for d in value]

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)"
            ) from None
        return value

    def active(self, now: datetime) -> bool:
        local = now.astimezone(ZoneInfo(self.timezone))
        for back in (0, 1):  # today's window, or yesterday's one running past midnight
            day = local.date() - timedelta(days=back)
            if DAYS[day.weekday()] not in self.days:
                continue
            begins = datetime.combine(day, self.start, local.tzinfo)
            ends = datetime.combine(day, self.end, local.tzinfo)
            if ends <= begins:
                ends += timedelta(days=1)
            if begins <= local < ends:
                return True
        return False


class MaintenanceWindow(BaseModel):
    """A planned period during which matching alerts are kept but open no incident."""

    model_config = ConfigDict(extra="forbid")

    name: str
    matchers: list[str] = Field(min_length=1, description='e.g. ["model=iris"]')
    start: datetime | None = None
    end: datetime | None = None
    weekly: WeeklyWindow | None = None

    _matchers = field_validator("matchers")(_checked_matchers)

    @model_validator(mode="after")
    def _when(self) -> MaintenanceWindow:
        once = self.start is not None or self.end is not None
        if once == (self.weekly is not None):
            raise ValueError("give either start and end, or weekly")
        if once:
            if self.start is None or self.end is None:
                raise ValueError("a one-off window needs both start and end")
            if self.start.tzinfo is None or self.end.tzinfo is None:
                raise ValueError("start and end need a time zone, e.g. 2026-12-01T02:00:00Z")
            if self.end <= self.start:
                raise ValueError("end must be after start")
        return self

    def active(self, now: datetime) -> bool:
        if self.weekly is not None:
            return self.weekly.active(now)
        assert self.start is not None
        assert self.end is not None
        return self.start <= now < self.end


class InhibitRule(BaseModel):
    """While an alert matching ``source_matchers`` fires, alerts matching ``target_matchers``
    with the same values of the ``equal`` labels are inhibited (Alertmanager's inhibit_rules)."""

    model_config = ConfigDict(extra="forbid")

    source_matchers: list[str] = Field(min_length=1)
    target_matchers: list[str] = Field(min_length=1)
    equal: list[str] = Field(default_factory=lambda: ["model"])

    _source = field_validator("source_matchers")(_checked_matchers)
    _target = field_validator("target_matchers")(_checked_matchers)


def default_inhibit_rules() -> list[InhibitRule]:
    """A model that is down makes its error-rate and latency alerts noise."""
    return [
        InhibitRule(
            source_matchers=["alertname=ModelUnavailable"],
            target_matchers=["alertname=~HighErrorRate|ErrorRateAnomaly|SlowResponses"],
            equal=["model"],
        )
    ]


@dataclass(frozen=True)
class CompiledInhibitRule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]

    def key(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        if len(self.equal) == 1:  # usually just the model
            return (labels.get(self.equal[0], ""),)
        return tuple([labels.get(name, "") for name in self.equal])


@dataclass(frozen=True)
class Suppressor:
    """Silences and maintenance windows in force for one batch."""

    silences: Sequence[tuple[int, tuple[Matcher, ...]]] = ()
    windows: Sequence[tuple[str, tuple[Matcher, ...]]] = ()

    def reason(self, labels: Mapping[str, str]) -> str | None:
        """``silence:<id>`` or ``maintenance:<name>`` when one of them matches, else None."""
        for silence_id, matchers in self.silences:
            if match_all(matchers, labels):
                return f"silence:{silence_id}"
        for name, matchers in self.windows:
            if match_all(matchers, labels):
                return f"maintenance:{name}"
        return None


def compile_rules(rules: Sequence[InhibitRule]) -> list[CompiledInhibitRule]:
    return [
        CompiledInhibitRule(
            parse_matchers(r.source_matchers), parse_matchers(r.target_matchers), tuple(r.equal)
        )
        for r in rules
    ]
