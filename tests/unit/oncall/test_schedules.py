"""Rotation math: who is on call when, handoffs at local wall-clock time across daylight-saving
changes, overrides winning and expiring, and malformed schedules rejected at start-up."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from firewatch.config import load_config
from firewatch.errors import ConfigError, InvalidInput
from firewatch.oncall.schedules import (
    ANCHOR,
    OnCall,
    OverrideSpan,
    ScheduleConfig,
    Target,
    on_call,
    parse_time,
    rotation_shift,
    timeline,
    upcoming,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
T0 = datetime(2026, 1, 1, tzinfo=UTC)  # all overrides below were created then or later


def schedule(
    kind: str = "daily",
    handoff: str = "09:00",
    zone: str = "Europe/Berlin",
    participants: tuple[str, ...] = ("ann", "bob", "cat"),
    **rotation: Any,
) -> ScheduleConfig:
    return ScheduleConfig.model_validate(
        {
            "name": "ml",
            "time_zone": zone,
            "rotation": {
                "type": kind,
                "handoff": handoff,
                "participants": list(participants),
                **rotation,
            },
        }
    )


def local(
    zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0
) -> datetime:
    """A wall-clock time in ``zone``, as UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=zone).astimezone(UTC)


def override(
    id_: int, person: str, starts_at: datetime, ends_at: datetime, created_minutes: int = 0
) -> OverrideSpan:
    return OverrideSpan(
        id=id_,
        person=person,
        starts_at=starts_at,
        ends_at=ends_at,
        created_at=T0 + timedelta(minutes=created_minutes),
    )


# --- the rotation ---------------------------------------------------------------------------


def test_daily_rotation_takes_turns_from_the_start_day() -> None:
    daily = schedule(start="2026-03-01")
    people = [on_call(daily, local(BERLIN, 2026, 3, day, 12)).person for day in range(1, 8)]
    assert people == ["ann", "bob", "cat", "ann", "bob", "cat", "ann"]
    # before the start day the rotation runs backwards, so someone is always on call
    assert on_call(daily, local(BERLIN, 2026, 2, 28, 12)).person == "cat"


def test_the_handoff_instant_belongs_to_the_next_shift() -> None:
    """Shifts are half-open: [handoff, next handoff)."""
    daily = schedule(start="2026-03-01")
    handoff = local(BERLIN, 2026, 3, 2, 9)
    before = on_call(daily, handoff - timedelta(microseconds=1))
    at = on_call(daily, handoff)
    assert (before.person, before.end) == ("ann", handoff)
    assert (at.person, at.start, at.source) == ("bob", handoff, "rotation")
    assert at.end == local(BERLIN, 2026, 3, 3, 9)


def test_weekly_rotation_hands_over_on_the_weekday_on_or_after_start() -> None:
    weekly = schedule("weekly", "Wed 18:30", participants=("ann", "bob"), start="2026-03-02")
    first = local(BERLIN, 2026, 3, 4, 18, 30)  # the Wednesday after Monday the 2nd
    assert rotation_shift(weekly, first).index == 0
    assert on_call(weekly, first).person == "ann"
    assert on_call(weekly, first - timedelta(seconds=1)).person == "bob"
    second = on_call(weekly, first + timedelta(days=7))
    assert (second.person, second.start, second.end - second.start) == (
        "bob",
        first + timedelta(days=7),
        timedelta(days=7),
    )


def test_default_start_is_the_documented_anchor_monday() -> None:
    assert date(2024, 1, 1) == ANCHOR and ANCHOR.weekday() == 0
    weekly = schedule("weekly", "Mon 09:00", zone="UTC", participants=("ann", "bob"))
    assert on_call(weekly, datetime(2024, 1, 1, 9, tzinfo=UTC)).person == "ann"
    assert on_call(weekly, datetime(2024, 1, 8, 9, tzinfo=UTC)).person == "bob"


@pytest.mark.parametrize(
    ("zone", "spring", "autumn"),
    [
        (BERLIN, date(2026, 3, 29), date(2026, 10, 25)),
        (NEW_YORK, date(2026, 3, 8), date(2026, 11, 1)),
    ],
)
def test_daily_handoff_stays_at_local_nine_across_daylight_saving(
    zone: ZoneInfo, spring: date, autumn: date
) -> None:
    daily = schedule(zone=zone.key, start="2026-01-01")
    for change, hours in ((spring, 23), (autumn, 25)):
        eve = datetime.combine(change - timedelta(days=1), datetime.min.time())
        start = eve.replace(hour=12, tzinfo=zone).astimezone(UTC)
        shifts = upcoming(daily, start, 3)
        assert [s.start.astimezone(zone).hour for s in shifts] == [9, 9, 9]
        assert [(s.end - s.start) / timedelta(hours=1) for s in shifts] == [hours, 24, 24]
        # the turn order carries on through the short / long shift
        assert [s.person for s in shifts][1] == on_call(daily, shifts[1].start).person
        assert shifts[0].person != shifts[1].person != shifts[2].person


def test_weekly_shift_over_a_daylight_saving_change_is_an_hour_shorter_or_longer() -> None:
    weekly = schedule("weekly", "Mon 09:00", zone="America/New_York", participants=("ann", "bob"))
    spring = on_call(weekly, local(NEW_YORK, 2026, 3, 8, 12))  # Sunday of the change
    autumn = on_call(weekly, local(NEW_YORK, 2026, 11, 1, 12))
    assert spring.end - spring.start == timedelta(hours=7 * 24 - 1)
    assert autumn.end - autumn.start == timedelta(hours=7 * 24 + 1)
    for shift in (spring, autumn):
        assert shift.start.astimezone(NEW_YORK).strftime("%a %H:%M") == "Mon 09:00"
        assert shift.end.astimezone(NEW_YORK).strftime("%a %H:%M") == "Mon 09:00"
    assert upcoming(weekly, spring.start, 2)[1].person != spring.person


def test_a_handoff_time_the_clocks_skip_or_repeat_is_documented() -> None:
    """02:30 does not exist on Berlin's spring-forward day (it happens at 03:30, the clock's
    reading an hour on) and occurs twice on fall-back day (the handoff is the first one)."""
    night = schedule(handoff="02:30", start="2026-01-01")
    skipped = on_call(night, local(BERLIN, 2026, 3, 29, 12)).start
    assert skipped.astimezone(BERLIN).strftime("%H:%M %Z") == "03:30 CEST"
    repeated = on_call(night, local(BERLIN, 2026, 10, 25, 12)).start
    assert repeated.astimezone(BERLIN).strftime("%H:%M %Z") == "02:30 CEST"
    assert repeated == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


@settings(max_examples=150, deadline=None)
@given(
    at=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31)),
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Sydney", "UTC"]),
    kind=st.sampled_from(["daily", "weekly"]),
)
def test_every_instant_has_one_shift_that_starts_and_ends_at_local_handoff(
    at: datetime, zone: str, kind: str
) -> None:
    sched = schedule(kind, "09:00" if kind == "daily" else "Fri 09:00", zone=zone)
    moment = at.replace(tzinfo=UTC)
    shift = rotation_shift(sched, moment)
    assert shift.start <= moment < shift.end
    for edge in (shift.start, shift.end):
        assert edge.astimezone(sched.zone).strftime("%H:%M") == "09:00"
    assert rotation_shift(sched, shift.end).index == shift.index + 1
    nominal = timedelta(days=1 if kind == "daily" else 7)
    assert abs(shift.end - shift.start - nominal) <= timedelta(hours=1)


# --- overrides ------------------------------------------------------------------------------


def test_an_override_wins_while_it_lasts_and_cuts_the_shift_around_it() -> None:
    daily = schedule(start="2026-03-01")
    shift_start, shift_end = local(BERLIN, 2026, 3, 2, 9), local(BERLIN, 2026, 3, 3, 9)
    starts, ends = local(BERLIN, 2026, 3, 2, 13), local(BERLIN, 2026, 3, 2, 17)
    spans = [override(1, "dan", starts, ends)]

    before = on_call(daily, local(BERLIN, 2026, 3, 2, 10), spans)
    during = on_call(daily, starts, spans)
    after = on_call(daily, ends, spans)  # an override ends exclusive, like a shift

    assert (before.person, before.start, before.end) == ("bob", shift_start, starts)
    assert during == OnCall(
        schedule="ml", person="dan", start=starts, end=ends, source="override", override_id=1
    )
    assert (after.person, after.start, after.end, after.source) == (
        "bob",
        ends,
        shift_end,
        "rotation",
    )
    stretches = timeline(daily, shift_start, shift_end, spans)
    assert [(s.person, s.source) for s in stretches] == [
        ("bob", "rotation"),
        ("dan", "override"),
        ("bob", "rotation"),
    ]


def test_of_overlapping_overrides_the_latest_created_wins() -> None:
    daily = schedule(start="2026-03-01")
    day = local(BERLIN, 2026, 3, 2, 0)
    long_ = override(1, "dan", day, day + timedelta(days=2), created_minutes=0)
    newer = override(2, "eve", day + timedelta(hours=12), day + timedelta(hours=14), 5)
    older_inside = override(3, "fay", day + timedelta(hours=20), day + timedelta(hours=22), -5)
    spans = [long_, newer, older_inside]

    assert on_call(daily, day + timedelta(hours=13), spans).person == "eve"
    assert on_call(daily, day + timedelta(hours=21), spans).person == "dan"  # created before
    stretch = on_call(daily, day + timedelta(hours=1), spans)
    assert (stretch.person, stretch.end) == ("dan", newer.starts_at)  # cut by the newer one
    resumed = on_call(daily, newer.ends_at, spans)
    assert (resumed.person, resumed.start, resumed.end) == ("dan", newer.ends_at, long_.ends_at)


def test_an_expired_override_changes_nothing() -> None:
    daily = schedule(start="2026-03-01")
    gone = override(1, "dan", local(BERLIN, 2026, 3, 1, 10), local(BERLIN, 2026, 3, 1, 11))
    later = local(BERLIN, 2026, 3, 4, 12)
    assert on_call(daily, later, [gone]) == on_call(daily, later)


def test_timeline_and_upcoming_are_contiguous() -> None:
    daily = schedule(start="2026-03-01")
    start = local(BERLIN, 2026, 3, 2, 12)
    spans = [override(1, "dan", start + timedelta(hours=30), start + timedelta(hours=50))]
    stretches = timeline(daily, start, start + timedelta(days=5), spans)
    assert stretches[0].start <= start < stretches[0].end
    assert stretches[-1].end >= start + timedelta(days=5)
    assert all(a.end == b.start for a, b in itertools.pairwise(stretches))
    assert upcoming(daily, start, 4, spans) == stretches[:4]


# --- times, targets and config errors ---------------------------------------------------------


def test_times_without_an_offset_are_local_to_the_schedule() -> None:
    assert parse_time("2026-03-29T10:00", BERLIN) == datetime(2026, 3, 29, 8, tzinfo=UTC)
    assert parse_time("2026-03-29T10:00Z", BERLIN) == datetime(2026, 3, 29, 10, tzinfo=UTC)
    assert parse_time("2026-03-29T10:00-04:00", BERLIN) == datetime(2026, 3, 29, 14, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="'tomorrow' is not a time: expected ISO 8601"):
        parse_time("tomorrow", BERLIN)


def test_a_target_names_exactly_one_of_schedule_or_person() -> None:
    assert Target(schedule="ml").schedule == "ml"
    assert Target.model_validate({"person": "ann"}).person == "ann"
    for bad in ({}, {"schedule": "ml", "person": "ann"}):
        with pytest.raises(ValidationError, match="exactly one of schedule or person"):
            Target.model_validate(bad)


PEOPLE = "people: [{handle: ann}, {handle: bob}]\n"
GOOD = (
    "{name: ml, time_zone: Europe/Berlin, "
    "rotation: {type: daily, handoff: '09:00', participants: [ann, bob]}}"
)


def test_a_good_schedule_loads(tmp_path: Path) -> None:
    path = tmp_path / "firewatch.yaml"
    path.write_text(PEOPLE + f"oncall: {{schedules: [{GOOD}]}}\n")
    config = load_config(path)
    loaded = config.oncall.schedule("ml")
    assert loaded is not None and loaded.rotation.participants == ["ann", "bob"]
    assert load_config(None).oncall.schedules == []


@pytest.mark.parametrize(
    ("schedule_yaml", "expected"),
    [
        (
            GOOD.replace("Europe/Berlin", "Mars/Olympus"),
            "oncall.schedules.0.time_zone: unknown time zone 'Mars/Olympus': expected an IANA name",
        ),
        (
            GOOD.replace("'09:00'", "'9am'"),
            "oncall.schedules.0.rotation.handoff: expected a handoff time such as '09:00' or "
            "'Mon 09:00', got '9am'",
        ),
        (GOOD.replace("'09:00'", "'25:00'"), "rotation.handoff: '25:00' is not a time of day"),
        (
            GOOD.replace("'09:00'", "'Mon 09:00'"),
            "rotation.handoff: a daily rotation hands over every day",
        ),
        (
            GOOD.replace("daily", "weekly"),
            "rotation.handoff: a weekly rotation hands over on a weekday: give e.g. 'Mon 09:00'",
        ),
        (GOOD.replace("daily", "weekly").replace("'09:00'", "'Funday 09:00'"), "'Funday'"),
        (
            GOOD.replace("[ann, bob]", "[]"),
            "rotation.participants: a rotation needs at least one participant",
        ),
        (
            GOOD.replace("[ann, bob]", "[ann, zed]"),
            "oncall.schedules.0.rotation.participants: 'zed' is not a declared person",
        ),
        (GOOD + ", " + GOOD, "schedules: 'ml' is defined twice"),
        (GOOD.replace("type: daily", "type: monthly"), "rotation.type"),
        (GOOD.replace("name: ml", "name: 'a b'"), "oncall.schedules.0.name"),
    ],
)
def test_a_malformed_schedule_is_a_clear_config_error(
    tmp_path: Path, schedule_yaml: str, expected: str
) -> None:
    path = tmp_path / "firewatch.yaml"
    path.write_text(PEOPLE + f"oncall: {{schedules: [{schedule_yaml}]}}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in info.value.message
    assert expected in info.value.message, info.value.message
