"""On-call schedules as configured, and the pure answer to "who is on call at time T".

A schedule is one rotation in one time zone: participants take turns, handing over daily or
weekly at a wall-clock time of that zone. Because the handoff follows the wall clock, it stays at
09:00 local across a daylight-saving change, and the shift that contains the change is 23 or 25
hours long. Shifts are half-open, ``[start, end)``: at the handoff instant the next person is on
call. Overrides (run-time state, see `firewatch.oncall.models`) put someone else on call for a
while; where several cover an instant, the one created last wins.

Usage::

    schedule = ScheduleConfig.model_validate({"name": "ml", "time_zone": "Europe/Berlin",
        "rotation": {"type": "weekly", "handoff": "Mon 09:00", "participants": ["ann", "bob"]}})
    on_call(schedule, datetime(2026, 3, 29, 10, tzinfo=UTC)).person  # "ann" or "bob"
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from firewatch.errors import InvalidInput

ANCHOR = date(2024, 1, 1)
"""The default first handoff day of every rotation (a Monday): participant 1 starts there."""

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_NUMBERS = {name: i for names in (WEEKDAYS, _FULL_DAYS) for i, name in enumerate(names)}
MAX_SEGMENTS = 10_000  # a timeline longer than this is a mistake, not a request

_HANDOFF = re.compile(r"^(?:(?P<day>[A-Za-z]+)\s+)?(?P<hour>\d{1,2}):(?P<minute>\d{2})$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

Source = Literal["rotation", "override"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def parse_handoff(text: str) -> tuple[int | None, time]:
    """``"09:00"`` → (None, 09:00); ``"Mon 09:00"`` → (0, 09:00). ValueError if malformed."""
    match = _HANDOFF.match(text.strip())
    if match is None:
        raise ValueError(f"expected a handoff time such as '09:00' or 'Mon 09:00', got {text!r}")
    hour, minute = int(match["hour"]), int(match["minute"])
    if hour > 23 or minute > 59:
        raise ValueError(f"{text!r} is not a time of day (00:00 to 23:59)")
    weekday = None
    if match["day"] is not None:
        weekday = _DAY_NUMBERS.get(match["day"].lower())
        if weekday is None:
            raise ValueError(f"unknown weekday {match['day']!r}: expected Mon, Tue, … or Sun")
    return weekday, time(hour, minute)


class RotationConfig(_Section):
    """Participants take turns, in order, handing over at a local wall-clock time."""

    type: Literal["daily", "weekly"] = Field(description="How long a shift is: a day or a week.")
    handoff: str = Field(
        description="When shifts change, in the schedule's time zone: 'HH:MM' for daily "
        "rotations, 'Mon HH:MM' (a weekday and a time) for weekly ones.",
    )
    start: date = Field(
        ANCHOR,
        description="The day of the first handoff, to the first participant (weekly: the first "
        "handoff weekday on or after it). Default 2024-01-01. The rotation also runs backwards "
        "from it, so every instant has someone on call.",
    )
    participants: list[str] = Field(description="Handles of declared people, in turn order.")

    @field_validator("handoff")
    @classmethod
    def _handoff(cls, value: str, info: ValidationInfo) -> str:
        weekday, at = parse_handoff(value)
        kind = info.data.get("type")
        if kind == "daily" and weekday is not None:
            raise ValueError(
                f"a daily rotation hands over every day: give only a time, not {value!r}"
            )
        if kind == "weekly" and weekday is None:
            raise ValueError(
                f"a weekly rotation hands over on a weekday: give e.g. 'Mon {at:%H:%M}', not {value!r}"
            )
        return f"{at:%H:%M}" if weekday is None else f"{WEEKDAYS[weekday].title()} {at:%H:%M}"

    @field_validator("participants")
    @classmethod
    def _participants(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("a rotation needs at least one participant (a person's handle)")
        return value

    @property
    def handoff_time(self) -> time:
        return parse_handoff(self.handoff)[1]

    @property
    def handoff_weekday(self) -> int | None:
        """0 = Monday … 6 = Sunday for weekly rotations; None for daily ones."""
        return parse_handoff(self.handoff)[0]

    @property
    def step(self) -> timedelta:
        return timedelta(days=1 if self.type == "daily" else 7)

    @property
    def first_handoff_day(self) -> date:
        weekday = self.handoff_weekday
        if weekday is None:
            return self.start
        return self.start + timedelta(days=(weekday - self.start.weekday()) % 7)


class ScheduleConfig(_Section):
    """One on-call schedule: a rotation in a time zone."""

    name: str = Field(description="Unique name, used in URLs, the CLI and escalation targets.")
    time_zone: str = Field(
        description="IANA time zone of the handoff times, e.g. Europe/Berlin or America/New_York."
    )
    rotation: RotationConfig
    description: str = Field("", description="What the schedule covers, for people reading it.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "a schedule name is 1-100 characters: letters, digits, '.', '_' or '-'"
            )
        return value

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: expected an IANA name such as Europe/Berlin, "
                "America/New_York or UTC"
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class OncallConfig(_Section):
    """On-call schedules; who is on call feeds paging and escalation."""

    schedules: list[ScheduleConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> OncallConfig:
        seen: set[str] = set()
        for schedule in self.schedules:
            if schedule.name in seen:
                raise ValueError(f"schedules: {schedule.name!r} is defined twice")
            seen.add(schedule.name)
        return self

    def schedule(self, name: str) -> ScheduleConfig | None:
        return next((s for s in self.schedules if s.name == name), None)

    def unknown_participants(self, people: Collection[str]) -> list[str]:
        """``schedules.N.rotation.participants: 'x' …`` for every participant not in ``people``."""
        return [
            f"oncall.schedules.{i}.rotation.participants: {handle!r} is not a declared person "
            f"(declare it under people:; declared: {', '.join(sorted(people)) or 'none'})"
            for i, schedule in enumerate(self.schedules)
            for handle in schedule.rotation.participants
            if handle not in people
        ]

    def check_target(self, target: Target, *, people: Collection[str]) -> None:
        """ValueError unless ``target`` names a configured schedule or one of ``people``."""
        if target.schedule is not None and self.schedule(target.schedule) is None:
            known = ", ".join(s.name for s in self.schedules) or "none"
            raise ValueError(f"no on-call schedule named {target.schedule!r} (configured: {known})")
        if target.person is not None and target.person not in people:
            raise ValueError(f"{target.person!r} is not a declared person")


class Target(BaseModel):
    """Whom to notify: the person on call in a schedule, or one person. Exactly one is given.

    Usage: ``Target(schedule="ml-primary")`` or ``Target(person="john_doe")``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schedule: str | None = Field(None, description="Whoever is on call in this schedule.")
    person: str | None = Field(None, description="This person's handle.")

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        if (self.schedule is None) == (self.person is None):
            raise ValueError(
                "a target names exactly one of schedule or person, "
                "e.g. {schedule: ml-primary} or {person: john_doe}"
            )
        return self


class OnCall(BaseModel):
    """Who is on call, from when until when (UTC), and why: the rotation or an override."""

    schedule: str
    person: str
    start: datetime
    end: datetime
    source: Source
    override_id: int | None = None


@dataclass(frozen=True)
class OverrideSpan:
    """An override as the computation needs it: someone on call over ``[starts_at, ends_at)``."""

    id: int
    person: str
    starts_at: datetime
    ends_at: datetime
    created_at: datetime

    @property
    def priority(self) -> tuple[datetime, int]:
        return self.created_at, self.id


@dataclass(frozen=True)
class Shift:
    """One turn of the rotation: ``index`` counts handoffs from the first (negative before it)."""

    index: int
    person: str
    start: datetime
    end: datetime


def handoff_at(schedule: ScheduleConfig, day: date) -> datetime:
    """The UTC instant of the handoff on local ``day``.

    A handoff time the clocks skip (spring forward) happens when the clock has moved on, an hour
    later by the new reading; one that occurs twice (fall back) happens the first time."""
    local = datetime.combine(day, schedule.rotation.handoff_time, tzinfo=schedule.zone)
    return local.astimezone(UTC)


def rotation_shift(schedule: ScheduleConfig, at: datetime) -> Shift:
    """The rotation's shift that contains ``at`` (handoff instants start the new shift)."""
    at = _utc(at)
    rotation = schedule.rotation
    step = rotation.step
    local_day = at.astimezone(schedule.zone).date()
    weekday = rotation.handoff_weekday
    day = (
        local_day if weekday is None else local_day - timedelta((local_day.weekday() - weekday) % 7)
    )
    while handoff_at(schedule, day) > at:
        day -= step
    while handoff_at(schedule, day + step) <= at:
        day += step
    index = (day - rotation.first_handoff_day).days // step.days
    people = rotation.participants
    return Shift(
        index=index,
        person=people[index % len(people)],
        start=handoff_at(schedule, day),
        end=handoff_at(schedule, day + step),
    )


def on_call(
    schedule: ScheduleConfig, at: datetime, overrides: Sequence[OverrideSpan] = ()
) -> OnCall:
    """Who is on call at ``at`` and over which stretch of time that answer holds.

    ``overrides`` are this schedule's. The override covering ``at`` that was created last wins;
    otherwise the rotation answers. ``start``/``end`` are where the answer changes: a rotation
    shift is cut short by an override inside it, an override by a newer override."""
    at = _utc(at)
    covering = [o for o in overrides if o.starts_at <= at < o.ends_at]
    if covering:
        winner = max(covering, key=lambda o: o.priority)
        start, end = winner.starts_at, winner.ends_at
        beaters = [o for o in overrides if o.priority > winner.priority]
        person, source, override_id = winner.person, "override", winner.id
    else:
        shift = rotation_shift(schedule, at)
        start, end = shift.start, shift.end
        beaters = list(overrides)
        person, source, override_id = shift.person, "rotation", None
    for other in beaters:  # none of them covers `at`, or it would have won
        if start < other.ends_at <= at:
            start = other.ends_at
        if at < other.starts_at < end:
            end = other.starts_at
    return OnCall(
        schedule=schedule.name,
        person=person,
        start=start,
        end=end,
        source=source,
        override_id=override_id,
    )


def timeline(
    schedule: ScheduleConfig,
    start: datetime,
    end: datetime,
    overrides: Sequence[OverrideSpan] = (),
) -> list[OnCall]:
    """Who is on call from ``start`` to ``end``: consecutive stretches, the first containing
    ``start`` (so it may begin earlier) and the last containing the instant before ``end``."""
    stretches: list[OnCall] = []
    at, end = _utc(start), _utc(end)
    while at < end and len(stretches) < MAX_SEGMENTS:
        stretch = on_call(schedule, at, overrides)
        stretches.append(stretch)
        at = stretch.end
    return stretches


def upcoming(
    schedule: ScheduleConfig,
    start: datetime,
    count: int,
    overrides: Sequence[OverrideSpan] = (),
) -> list[OnCall]:
    """``count`` consecutive stretches of on-call time: the one containing ``start``, then the
    next ones (each ends at a handoff, or where an override begins or ends)."""
    stretches: list[OnCall] = []
    at = _utc(start)
    for _ in range(min(count, MAX_SEGMENTS)):
        stretch = on_call(schedule, at, overrides)
        stretches.append(stretch)
        at = stretch.end
    return stretches


def parse_time(text: str, zone: ZoneInfo) -> datetime:
    """An ISO 8601 time as UTC; without an offset it is local to ``zone``.

    ``"2026-03-29T10:00"`` in Europe/Berlin → 08:00 UTC; ``"2026-03-29T10:00Z"`` → 10:00 UTC."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"{text!r} is not a time: expected ISO 8601 such as 2026-03-29T10:00 (local to the "
            f"schedule's zone, {zone.key}) or 2026-03-29T10:00+02:00",
            code="invalid_time",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("on-call times must be timezone-aware")
    return at.astimezone(UTC)
