"""``firewatch runbook …``: the runbooks Firewatch runs, readable by people (list, show), walked
without changing anything (run --dry-run), and the runs on an incident: status, approve or reject
a proposed action, tick (done) or skip a checklist item, run one by hand."""

from __future__ import annotations

import asyncio
from typing import Annotated

import httpx
import typer
from rich.markdown import Markdown
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from firewatch.cli.common import ActorOption, actor, clock, config, console, database, read, write
from firewatch.errors import Conflict, InvalidInput, NotFound
from firewatch.incidents import service as incident_service
from firewatch.runbooks import engine as runbook_engine
from firewatch.runbooks import runs as runbook_runs
from firewatch.runbooks.document import to_markdown
from firewatch.runbooks.engine import PlannedStep
from firewatch.runbooks.library import RunbookLibrary
from firewatch.runbooks.models import RunbookRunRow
from firewatch.runbooks.schema import Runbook
from firewatch.severity import Severity
from firewatch.store.writer import Writer

app = typer.Typer(
    help="Runbooks: what Firewatch does for each kind of incident.", no_args_is_help=True
)


def _library() -> RunbookLibrary:
    return RunbookLibrary.load(config().runbooks.directory)


@app.command("list")
def list_runbooks() -> None:
    """Every runbook (built-in and from runbooks.directory), with the alert it answers."""
    library = _library()
    table = Table(box=None, header_style="bold")
    for column in ("NAME", "TITLE", "ALERT", "SEVERITY", "STEPS"):
        table.add_column(column)
    for name in library.names():
        runbook = library.get(name)
        table.add_row(
            name,
            escape(runbook.title),
            ", ".join(runbook.alert) or "—",
            runbook.severity.value if runbook.severity else "—",
            str(len(runbook.steps)),
        )
    console.print(table)
    for name, problem in sorted(library.broken.items()):
        console.print(f"[red]{escape(name)} cannot be used:[/red] {escape(problem)}")
    console.print("Read one: firewatch runbook show NAME")


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="A runbook name from `firewatch runbook list`.")],
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the Markdown source (for a wiki or a file).")
    ] = False,
) -> None:
    """A runbook as a readable document: its steps, which are automatic, when each applies."""
    text = to_markdown(_library().get(name), config().runbooks.policy)
    if markdown:
        typer.echo(text, nl=False)
    else:
        console.print(Markdown(text))


def _decide(ref: str, step: str | None, decision: str, note: str, who: str) -> None:
    library = _library()

    def unit(session: Session) -> tuple[str, str, str]:
        incident = incident_service.get_incident(session, ref=ref, for_update=True)
        runs = runbook_runs.runs_of(session, incident.id)
        name, step_id = _waiting_step(incident.display_id, runs, step, decision)
        runbook_runs.decide(
            session,
            library=library,
            now=clock.now(),
            incident=incident,
            runbook=name,
            step=step_id,
            decision=decision,
            actor=who,
            note=note,
        )
        return incident.display_id, name, step_id

    display_id, name, step_id = write(unit)
    word = runbook_runs.DECISIONS[decision][0]
    console.print(f"{display_id}: {name} step {step_id} {word}; the runbook carries on.")


def _waiting_step(
    display_id: str, runs: list[RunbookRunRow], step: str | None, decision: str
) -> tuple[str, str]:
    """The (runbook, step) a decision is about: the named step, or the one step that waits."""
    if step is not None:
        if not runs:
            raise NotFound(f"no runbook has run on {display_id}")
        owners = [r.runbook for r in runs if (r.waiting or {}).get("step") == step]
        owners = owners or [r.runbook for r in runs if step in r.results] or [runs[-1].runbook]
        return owners[-1], step
    kind = "approval" if decision in ("approve", "reject") else "manual"
    waiting: list[tuple[str, str]] = []
    for run in runs:
        if run.waiting is not None and run.waiting.get("kind") == kind:
            waiting.append((run.runbook, str(run.waiting["step"])))
        elif kind == "manual":
            waiting += [
                (run.runbook, s) for s, r in run.results.items() if r["outcome"] == "pending"
            ]
    if len(waiting) == 1:
        return waiting[0]
    what = "a proposed action" if kind == "approval" else "a checklist item"
    if not waiting:
        raise Conflict(
            f"nothing on {display_id} waits for {what}: see `firewatch runbook status {display_id}`"
        )
    choices = ", ".join(f"{r}/{s}" for r, s in waiting)
    raise Conflict(f"several steps wait on {display_id} ({choices}): name the step")


StepArgument = Annotated[
    str | None,
    typer.Argument(help="The step id (default: the one step waiting for this decision)."),
]
NoteOption = Annotated[str, typer.Option("--note", help="Why (kept on the timeline).")]


@app.command()
def approve(
    ref: str, step: StepArgument = None, note: NoteOption = "", as_: ActorOption = None
) -> None:
    """Approve an action the runbook proposed (policy kept it for a person): it runs now."""
    _decide(ref, step, "approve", note, actor(as_).name)


@app.command()
def reject(
    ref: str, step: StepArgument = None, note: NoteOption = "", as_: ActorOption = None
) -> None:
    """Reject a proposed action: the runbook skips it and carries on."""
    _decide(ref, step, "reject", note, actor(as_).name)


@app.command()
def done(
    ref: str, step: StepArgument = None, note: NoteOption = "", as_: ActorOption = None
) -> None:
    """Tick a checklist (manual) step as done."""
    _decide(ref, step, "done", note, actor(as_).name)


@app.command()
def skip(
    ref: str, step: StepArgument = None, note: NoteOption = "", as_: ActorOption = None
) -> None:
    """Skip a checklist (manual) step."""
    _decide(ref, step, "skip", note, actor(as_).name)


@app.command()
def status(ref: str) -> None:
    """The runbooks run on an incident: each step's outcome, and what waits for a person."""

    def unit(session: Session) -> tuple[str, list[RunbookRunRow]]:
        incident = incident_service.get_incident(session, ref=ref)
        return incident.display_id, runbook_runs.runs_of(session, incident.id)

    display_id, runs = read(unit)
    if not runs:
        console.print(f"No runbook has run on {display_id}.")
        return
    library = _library()
    for run in runs:
        console.print(
            f"[bold]{run.runbook}[/bold] — {run.status}" + (" (mitigated)" if run.mitigated else "")
        )
        steps = library.get(run.runbook).steps if run.runbook in library.names() else []
        waiting = run.waiting or {}
        for step in steps:
            result = run.results.get(step.id)
            outcome = result["outcome"] if result else "—"
            if waiting.get("step") == step.id:
                verb = "approve" if waiting["kind"] == "approval" else "done"
                outcome = (
                    f"[yellow]WAITING[/yellow] until {waiting['due']}: "
                    f"`firewatch runbook {verb} {display_id} {step.id}`"
                )
            elif outcome == "pending":
                outcome = (
                    f"[yellow]pending[/yellow]: `firewatch runbook done {display_id} {step.id}`"
                )
            summary = f" — {escape(result['summary'])}" if result else ""
            console.print(f"  {step.id:<22} {outcome}{summary}")


@app.command("run")
def run_runbook(
    name: Annotated[str, typer.Argument(help="A runbook name from `firewatch runbook list`.")],
    incident: Annotated[
        str | None,
        typer.Option("--incident", help="Run it on this incident (the server carries it out)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what it would do; change nothing.")
    ] = False,
    model: Annotated[
        str | None, typer.Option("--model", help="Dry run: the model it is about.")
    ] = None,
    severity: Annotated[
        str, typer.Option("--severity", help="Dry run: decides which actions need approval.")
    ] = "SEV2",
    as_: ActorOption = None,
) -> None:
    """Run a runbook on an incident, or walk it with --dry-run (checks run, actions do not)."""
    library = _library()
    runbook = library.get(name)
    if dry_run:
        _print_plan(name, asyncio.run(_plan(runbook, model, Severity.parse(severity))))
        return
    if incident is None:
        raise InvalidInput("give --incident INC-… to run it, or --dry-run to walk it")
    who = actor(as_).name

    def unit(session: Session) -> str:
        row = incident_service.get_incident(session, ref=incident, for_update=True)
        if not runbook_runs.start_run(
            session, library=library, incident=row, name=name, now=clock.now(), actor=who
        ):
            raise Conflict(
                f"runbook {name} already ran (or is queued) on {row.display_id}: see `firewatch runbook status {row.display_id}`"
            )
        return row.display_id

    display_id = write(unit)
    console.print(
        f"Queued {name} on {display_id}; the server runs it. Follow: firewatch runbook status {display_id}"
    )


async def _plan(runbook: Runbook, model: str | None, severity: Severity) -> list[PlannedStep]:
    cfg = config()
    if model is not None and cfg.model(model) is None:
        known = ", ".join(m.name for m in cfg.models) or "none"
        raise NotFound(f"no model {model!r} in the configuration (configured: {known})")
    with database() as db:
        writer = Writer(db)
        writer.start()
        try:
            async with httpx.AsyncClient() as client:
                engine = runbook_engine.RunbookEngine(_library(), cfg, db, writer, clock, client)
                return await engine.plan(
                    runbook, model=model, severity=severity, display_id="INC-DRY-RUN"
                )
        finally:
            await asyncio.to_thread(writer.stop)


def _print_plan(name: str, planned: list[PlannedStep]) -> None:
    console.print(f"[bold]Dry run of {name}[/bold] — nothing was changed")
    style = {"passed": "green", "failed": "red", "skipped": "dim", "pending": "yellow"}
    for number, step in enumerate(planned, 1):
        colour = style.get(step.outcome, "white")
        console.print(
            f"{number:>2}. {escape(step.title)} [dim]({step.type}, {step.mode})[/dim]\n"
            f"    [{colour}]{step.outcome}[/{colour}]: {escape(step.summary)}"
        )
