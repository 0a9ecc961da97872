"""``firewatch drill``: run a drill or a game day against the fleet, list scenarios, show the
history of drill results and the configured schedule."""

from __future__ import annotations

import asyncio
import json as jsonlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from firewatch.cli.common import JsonOption, clock, config, console, read
from firewatch.drills import service as drill_service
from firewatch.drills.scenarios import ALL, LABEL_DELAY_S, SCENARIOS, select
from firewatch.drills.schemas import MEASURES, DrillRunOut
from firewatch.drills.settings import next_due
from firewatch.errors import FirewatchError

app = typer.Typer(
    help="Drills: inject a fault, let Firewatch respond, measure it against the SLA.",
    no_args_is_help=True,
)

DEFAULT_REPORT = Path("docs/drills.md")
MEASURED = frozenset({"DETECT", "NOTIFY", "ACK", "MITIGATE", "RESOLVE"})
OUTCOME_STYLE = {"pass": "bold green", "fail": "bold red", "aborted": "yellow"}


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _outcome(value: str | None) -> str:
    text = (value or "running").upper()
    style = OUTCOME_STYLE.get(value or "", "dim")
    return f"[{style}]{text}[/]"


@app.command("list")
def list_scenarios() -> None:
    """The scenarios: the fault each injects, the runbook and end state it expects."""
    table = Table(box=None, header_style="bold")
    for column in ("SCENARIO", "FAULT", "ALERT", "RUNBOOK", "END STATE", "LIMIT"):
        table.add_column(column)
    for s in SCENARIOS.values():
        table.add_row(
            s.name,
            s.fault.description,
            s.alert,
            s.runbook,
            s.expects,
            f"{s.time_limit.total_seconds():g}s",
        )
    console.print(table)
    console.print(f"Run one: firewatch drill run NAME   (or {ALL} for a game day with a report)")


def _progress(scenario: str, text: str) -> None:
    console.print(f"[bold]\\[{scenario}][/] {escape(text)}", highlight=False)


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help=f"A scenario name, or {ALL} for a game day.")],
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api",
            envvar="FIREWATCH_API_URL",
            help="Firewatch's URL (default: drills.target.api_url or server.host:port).",
            show_default=False,
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="FIREWATCH_API_TOKEN",
            help="A write or admin token (`firewatch demo up` prints one).",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="The model to drill.", show_default=False)
    ] = None,
    model_url: Annotated[
        str | None,
        typer.Option(help="Its service's base URL (with /admin/faults).", show_default=False),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            help=f"Write the Markdown report and its PNG here (default for {ALL}: "
            f"{DEFAULT_REPORT}).",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(min=1, help="Seconds each drill may take (default: the scenario's limit)."),
    ] = None,
    settle: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for a quiet fleet before each drill.")
    ] = 180,
    label_delay: Annotated[
        float,
        typer.Option(
            min=0, help="Seconds until true labels follow predictions (the demo traffic's 3)."
        ),
    ] = LABEL_DELAY_S,
    json: JsonOption = False,
) -> None:
    """Run a drill (or all of them): inject the fault, play on-call, restore, report the times."""
    from firewatch.drills.report import ReportContext, write_report
    from firewatch.drills.runner import DrillOptions, run_drills
    from firewatch.drills.schedule import target_from_config

    scenarios = select(scenario)
    if not token:
        raise FirewatchError(
            "a drill acts through Firewatch's API: give --token or set FIREWATCH_API_TOKEN "
            "(`firewatch demo up` prints one; or `firewatch token create --scope write`)"
        )
    target = target_from_config(
        config(), token=token, model=model, model_url=model_url, api_url=api_url
    )
    options = DrillOptions(
        time_limit=timedelta(seconds=timeout) if timeout else None,
        settle_limit=timedelta(seconds=settle),
        label_delay_s=label_delay,
    )
    console.print(
        f"Drilling [bold]{target.model}[/] ({target.model_url}) through {target.api_url}: "
        + ", ".join(s.name for s in scenarios)
    )
    runs = asyncio.run(run_drills(target, scenarios, options, _progress))
    path = report or (DEFAULT_REPORT if scenario == ALL else None)
    if path is not None:
        context = ReportContext(target.api_url, target.model, datetime.now(UTC))
        written, chart = write_report(runs, context, path)
        console.print(f"Wrote {written} and {chart}")
    if json:
        console.print_json(jsonlib.dumps([r.model_dump(mode="json") for r in runs]))
    else:
        _print_runs(runs, title="Drill results (seconds from the fault)")
    if any(r.outcome != "pass" for r in runs):
        raise typer.Exit(1)


def _print_runs(runs: list[DrillRunOut], *, title: str, when: bool = False) -> None:
    """Times in a table; why a drill failed below it (reasons do not fit in a column)."""
    table = Table(title=title, title_justify="left", box=None, header_style="bold")
    columns = ["#", "STARTED"] if when else []
    columns += ["SCENARIO", "RESULT", "INCIDENT", "SEV", "DETECT", "NOTIFY", "ACK"]
    columns += ["MITIGATE", "RESOLVE"]
    for column in columns:
        table.add_column(column, no_wrap=True, justify="right" if column in MEASURED else "left")
    for r in runs:
        cells = [str(r.id), f"{r.started_at:%m-%d %H:%M}"] if when else []
        cells += [r.scenario, _outcome(r.outcome), r.incident or "—", r.severity or "—"]
        table.add_row(*cells, *(_seconds(r.times.get(m)) for m in MEASURES))
    console.print(table)
    for r in runs:
        if r.failures:
            reasons = escape("; ".join(r.failures))
            console.print(f"[bold]{r.scenario}[/] #{r.id}: {reasons}", highlight=False)


@app.command()
def history(
    scenario: Annotated[str | None, typer.Option(help="Only this scenario.")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Only this model.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    json: JsonOption = False,
) -> None:
    """Past drill results, newest first: see response times improve or regress."""
    if scenario is not None and scenario not in SCENARIOS:
        raise typer.BadParameter(f"unknown scenario {scenario!r} (known: {', '.join(SCENARIOS)})")
    runs = read(
        lambda s: [
            drill_service.to_schema(row)
            for row in drill_service.list_drills(s, scenario=scenario, model=model, limit=limit)
        ]
    )
    if json:
        console.print_json(jsonlib.dumps([r.model_dump(mode="json") for r in runs]))
        return
    if not runs:
        console.print("No drills yet. Run one: firewatch drill run model-down")
        return
    _print_runs(runs, title="Drill history (seconds from the fault)", when=True)


@app.command()
def report(
    game_day: Annotated[
        str | None, typer.Option(help="Which game day (default: the latest).", show_default=False)
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write it.")] = (
        DEFAULT_REPORT
    ),
) -> None:
    """Write a game day's Markdown report and chart again from the kept results."""
    from firewatch.drills.report import ReportContext, write_report

    def load(session: Session) -> tuple[str | None, list[DrillRunOut]]:
        day = game_day or drill_service.latest_game_day(session)
        rows = drill_service.list_drills(session, game_day=day, limit=100) if day else []
        return day, [drill_service.to_schema(row) for row in reversed(rows)]

    day, runs = read(load)
    if not runs:
        raise FirewatchError(
            f"no drills of game day {day!r}"
            if game_day
            else "no game day yet: run `firewatch drill run all`"
        )
    context = ReportContext(None, runs[0].model, runs[-1].finished_at or runs[-1].started_at)
    written, chart = write_report(runs, context, output)
    console.print(f"Wrote {written} and {chart} (game day {day}, {len(runs)} drills)")


@app.command()
def schedule() -> None:
    """The drills the server runs by itself (config drills.schedule) and when each is next due."""
    settings = config().drills
    if not settings.schedule:
        console.print(
            "No scheduled drills. Add some to the config, e.g.\n  drills:\n    schedule:\n"
            '      - {cron: "0 10 * * MON", scenario: all}'
        )
        return
    from cronsim import CronSim

    table = Table(box=None, header_style="bold")
    for column in ("CRON", "MEANING", "ZONE", "SCENARIO", "NEXT (UTC)"):
        table.add_column(column)
    now = clock.now()
    for entry in settings.schedule:
        due = next_due(entry.cron, entry.time_zone, now)
        table.add_row(
            entry.cron,
            CronSim(entry.cron, now).explain(),
            entry.time_zone,
            entry.scenario,
            f"{due:%Y-%m-%d %H:%M}",
        )
    console.print(table)
