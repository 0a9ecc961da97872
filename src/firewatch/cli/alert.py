"""``firewatch alert list`` and ``firewatch silence add|list|expire``."""

from __future__ import annotations

import json as jsonlib
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from firewatch.alerts import service as alerts_service
from firewatch.alerts import silences as silence_service
from firewatch.alerts.silences import SilenceIn, SilenceOut
from firewatch.cli.common import (
    ActorOption,
    JsonOption,
    actor,
    ago,
    clock,
    console,
    read,
    severity_text,
    write,
)
from firewatch.duration import parse_duration
from firewatch.errors import InvalidInput

alert_app = typer.Typer(
    help="Alerts from every source, as Firewatch holds them.", no_args_is_help=True
)
silence_app = typer.Typer(
    help="Silence alerts by label matchers for a while.", no_args_is_help=True
)


@alert_app.command("list")
def list_alerts(
    status: Annotated[
        str | None, typer.Option(help="firing or resolved (default: both).")
    ] = "firing",
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    suppressed: Annotated[
        bool | None,
        typer.Option(
            "--suppressed/--not-suppressed",
            help="Only suppressed (silenced, in maintenance, inhibited) alerts, or only the others.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    all_: Annotated[bool, typer.Option("--all", help="Firing and resolved.")] = False,
    json: JsonOption = False,
) -> None:
    """Alerts, most recently seen first (firing ones by default)."""
    if status not in (None, "firing", "resolved"):
        raise InvalidInput(f"unknown alert status {status!r}: expected firing or resolved")
    rows = read(
        lambda s: alerts_service.list_alerts(
            s, status=None if all_ else status, model=model, suppressed=suppressed, limit=limit
        )
    )
    if json:
        console.print_json(jsonlib.dumps([r.model_dump(mode="json") for r in rows]))
        return
    if not rows:
        console.print("No alerts match.")
        return
    table = Table(show_edge=False, header_style="bold")
    for column in ("ALERT", "SEV", "MODEL", "STATUS", "SINCE", "INCIDENT", "SOURCE", "SUMMARY"):
        table.add_column(column)
    for r in rows:
        status_text = r.status if r.suppressed_by is None else f"{r.status} ({r.suppressed_by})"
        table.add_row(
            escape(r.alertname),
            severity_text(r.severity),
            escape(r.model or "—"),
            escape(status_text),
            ago(r.starts_at),
            r.incident or "—",
            escape(r.labels.get("source", "")),
            escape(r.annotations.get("summary", "")),
        )
    console.print(table)


def _print_silence(s: SilenceOut, verb: str) -> None:
    console.print(
        f"{verb} silence [bold]{s.id}[/] ({s.state.value}) {escape(', '.join(s.matchers))} "
        f"until {s.ends_at:%Y-%m-%d %H:%M} UTC"
    )


@silence_app.command("add")
def add(
    match: Annotated[
        list[str],
        typer.Option(
            "--match", "-m", help="A matcher, e.g. model=iris or alertname=~High.* (repeat)."
        ),
    ],
    duration: Annotated[str, typer.Option("--duration", "-d", help="How long, e.g. 2h.")] = "2h",
    comment: Annotated[str, typer.Option("--comment", "-c", help="Why.")] = "",
    as_: ActorOption = None,
) -> None:
    """Silence matching alerts: kept, but they open or join no incident."""
    body = SilenceIn(matchers=match, duration=parse_duration(duration), comment=comment)
    who = actor(as_).name

    def unit(session: Session) -> SilenceOut:
        now = clock.now()
        return silence_service.to_schema(
            silence_service.create_silence(session, silence=body, created_by=who, now=now), now
        )

    _print_silence(write(unit), "Added")


@silence_app.command("list")
def list_silences(
    expired: Annotated[bool, typer.Option(help="Include expired silences.")] = False,
    json: JsonOption = False,
) -> None:
    """Active and pending silences."""
    rows = read(
        lambda s: silence_service.list_silences(s, now=clock.now(), include_expired=expired)
    )
    if json:
        console.print_json(jsonlib.dumps([r.model_dump(mode="json") for r in rows]))
        return
    if not rows:
        console.print("No silences.")
        return
    table = Table(show_edge=False, header_style="bold")
    for column in ("ID", "STATE", "MATCHERS", "UNTIL", "BY", "COMMENT"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r.id),
            r.state.value,
            escape(", ".join(r.matchers)),
            f"{r.ends_at:%Y-%m-%d %H:%M}",
            escape(r.created_by),
            escape(r.comment),
        )
    console.print(table)


@silence_app.command("expire")
def expire(silence_id: int) -> None:
    """End a silence now."""

    def unit(session: Session) -> SilenceOut:
        now = clock.now()
        return silence_service.to_schema(
            silence_service.expire_silence(session, silence_id=silence_id, now=now), now
        )

    _print_silence(write(unit), "Expired")
