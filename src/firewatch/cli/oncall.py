"""``firewatch oncall``: who is on call, upcoming shifts, and overrides (add, list, remove).

Times given without an offset (``--at 2026-03-29T10:00``) are local to the schedule's time zone;
times are shown in that zone too.
"""

from __future__ import annotations

import json as jsonlib
from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from firewatch.cli.common import ActorOption, JsonOption, actor, clock, config, console, read, write
from firewatch.duration import format_duration, parse_duration
from firewatch.errors import InvalidInput
from firewatch.oncall import service as oncall_service
from firewatch.oncall.schedules import OnCall, OncallConfig, ScheduleConfig, parse_time
from firewatch.oncall.schemas import OverrideIn, OverrideOut, ScheduleStatus

app = typer.Typer(
    help="On-call schedules: who is on call, shifts, overrides.", no_args_is_help=True
)
override_app = typer.Typer(help="Put someone else on call for a while.", no_args_is_help=True)
app.add_typer(override_app, name="override")

AtOption = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="A time, ISO 8601 (local to the schedule's zone unless it has an offset). "
        "Default: now.",
        show_default=False,
    ),
]


def _oncall_config() -> OncallConfig:
    return config().oncall


def _when(text: str | None, schedule: ScheduleConfig) -> datetime:
    return clock.now() if text is None else parse_time(text, schedule.zone)


def _local(when: datetime, zone: ZoneInfo, *, short: bool = False) -> str:
    shown = when.astimezone(zone)
    return f"{shown:%Y-%m-%d %H:%M}" if short else f"{shown:%a %Y-%m-%d %H:%M %Z}"


def _who_text(stretch: OnCall) -> str:
    source = f" [dim](override {stretch.override_id})[/]" if stretch.source == "override" else ""
    return f"[bold]{escape(stretch.person)}[/]{source}"


@app.command()
def who(
    schedule: Annotated[
        str | None, typer.Argument(help="A schedule (default: every schedule).", show_default=False)
    ] = None,
    at: AtOption = None,
    json: JsonOption = False,
) -> None:
    """Who is on call now (or --at a time), until when, and who is next."""
    oncall = _oncall_config()
    chosen = [oncall_service.get_schedule(oncall, schedule)] if schedule else list(oncall.schedules)
    if not chosen:
        console.print("No on-call schedules: define them under oncall.schedules in the config.")
        return
    moments = {s.name: _when(at, s) for s in chosen}
    statuses = read(
        lambda session: [
            oncall_service.status(session, config=oncall, schedule=s.name, at=moments[s.name])
            for s in chosen
        ]
    )
    if json:
        console.print_json(jsonlib.dumps([s.model_dump(mode="json") for s in statuses]))
        return
    _print_statuses(statuses, {s.name: s.zone for s in chosen})


def _print_statuses(statuses: list[ScheduleStatus], zones: dict[str, ZoneInfo]) -> None:
    table = Table(show_edge=False, header_style="bold")
    for column in ("SCHEDULE", "ON CALL", "UNTIL", "NEXT"):
        table.add_column(column, no_wrap=column == "UNTIL")
    for status in statuses:
        zone = zones[status.schedule]
        left = format_duration(status.on_call.end - status.at)
        table.add_row(
            escape(status.schedule),
            _who_text(status.on_call),
            f"{_local(status.on_call.end, zone)} (in {left})",
            _who_text(status.next),
        )
    console.print(table)


@app.command("schedule")
def show_schedule(
    schedule: Annotated[str, typer.Argument(help="The schedule.")],
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="How far ahead.")] = 14,
    start: Annotated[
        str | None,
        typer.Option("--from", help="Start here instead of now (ISO 8601).", show_default=False),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Upcoming shifts: who is on call from when to when, overrides included."""
    oncall = _oncall_config()
    found = oncall_service.get_schedule(oncall, schedule)
    begin = _when(start, found)
    stretches = read(
        lambda s: oncall_service.shifts(
            s, config=oncall, schedule=found.name, start=begin, end=begin + timedelta(days=days)
        )
    )
    if json:
        console.print_json(jsonlib.dumps([s.model_dump(mode="json") for s in stretches]))
        return
    console.print(f"[bold]{escape(found.name)}[/] ({found.time_zone}, {found.rotation.type})")
    table = Table(show_edge=False, header_style="bold")
    for column in ("FROM", "TO", "LENGTH", "ON CALL"):
        table.add_column(column)
    for stretch in stretches:
        table.add_row(
            _local(stretch.start, found.zone),
            _local(stretch.end, found.zone),
            format_duration(stretch.end - stretch.start),
            _who_text(stretch),
        )
    console.print(table)


@override_app.command("add")
def add_override(
    schedule: Annotated[str, typer.Argument(help="The schedule.")],
    person: Annotated[str, typer.Option("--person", "-p", help="Who stands in (a handle).")],
    start: Annotated[
        str | None,
        typer.Option("--from", help="From (ISO 8601; default: now).", show_default=False),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Until (ISO 8601).", show_default=False)
    ] = None,
    length: Annotated[
        str | None,
        typer.Option("--for", help="Or: how long, e.g. 4h or 2d.", show_default=False),
    ] = None,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why.")] = "",
    as_: ActorOption = None,
) -> None:
    """Put PERSON on call in SCHEDULE from --from until --to (or --for a while)."""
    loaded = config()
    found = oncall_service.get_schedule(loaded.oncall, schedule)
    if (end is None) == (length is None):
        raise InvalidInput("give either --to (a time) or --for (a duration), not both or neither")
    starts_at = _when(start, found)
    ends_at = parse_time(end, found.zone) if end is not None else starts_at + _duration(length)
    if ends_at <= starts_at:
        raise InvalidInput(
            f"--to ({_local(ends_at, found.zone)}) must be after --from "
            f"({_local(starts_at, found.zone)})"
        )
    body = OverrideIn(person=person, starts_at=starts_at, ends_at=ends_at, reason=reason)
    who_acts = actor(as_).name
    declared = {p.handle for p in loaded.people}

    def unit(session: Session) -> OverrideOut:
        now = clock.now()
        row = oncall_service.add_override(
            session,
            config=loaded.oncall,
            schedule=found.name,
            override=body,
            created_by=who_acts,
            now=now,
            declared_people=declared,
        )
        return oncall_service.to_schema(row, now)

    added = write(unit)
    console.print(
        f"Added override [bold]{added.id}[/]: {escape(added.person)} is on call for "
        f"{escape(added.schedule)} from {_local(added.starts_at, found.zone)} "
        f"until {_local(added.ends_at, found.zone)}"
    )


def _duration(text: str | None) -> timedelta:
    try:
        length = parse_duration(text or "")
    except ValueError as exc:
        raise InvalidInput(f"--for: {exc}") from None
    if length <= timedelta(0):
        raise InvalidInput("--for: an override lasts longer than nothing")
    return length


@override_app.command("list")
def list_overrides(
    schedule: Annotated[
        str | None, typer.Argument(help="Only this schedule.", show_default=False)
    ] = None,
    include_past: Annotated[bool, typer.Option("--all", help="Ended ones too.")] = False,
    json: JsonOption = False,
) -> None:
    """Current and future overrides, by start time."""
    oncall = _oncall_config()
    if schedule is not None:
        oncall_service.get_schedule(oncall, schedule)
    now = clock.now()
    rows = read(
        lambda s: [
            oncall_service.to_schema(row, now)
            for row in oncall_service.list_overrides(
                s, now=now, schedule=schedule, include_past=include_past
            )
        ]
    )
    if json:
        console.print_json(jsonlib.dumps([r.model_dump(mode="json") for r in rows]))
        return
    if not rows:
        console.print("No overrides." + ("" if include_past else " (Ended ones: --all.)"))
        return
    table = Table(show_edge=False, header_style="bold")
    for column in ("ID", "SCHEDULE", "PERSON", "FROM (local)", "TO", "STATE", "REASON"):
        table.add_column(column, no_wrap=column in ("FROM (local)", "TO"))
    for r in rows:
        known = oncall.schedule(r.schedule)
        zone = known.zone if known is not None else ZoneInfo("UTC")
        table.add_row(
            str(r.id),
            escape(r.schedule),
            escape(r.person),
            _local(r.starts_at, zone, short=True),
            _local(r.ends_at, zone, short=True),
            r.state.value,
            escape(r.reason),
        )
    console.print(table)


@override_app.command("remove")
def remove_override(override_id: Annotated[int, typer.Argument(help="The override's id.")]) -> None:
    """Remove an override: the rotation decides again."""
    now = clock.now()
    removed = write(
        lambda s: oncall_service.to_schema(
            oncall_service.delete_override(s, override_id=override_id), now
        )
    )
    console.print(
        f"Removed override [bold]{removed.id}[/] ({escape(removed.person)} on "
        f"{escape(removed.schedule)})"
    )
