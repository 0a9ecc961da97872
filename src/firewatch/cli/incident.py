"""``firewatch incident``: declare, list, show, ack, resolve, note, assign, severity, postmortem."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from firewatch.cli.common import (
    ActorOption,
    JsonOption,
    actor,
    ago,
    clock,
    config,
    console,
    read,
    severity_text,
    write,
)
from firewatch.incidents import queries as incident_queries
from firewatch.incidents import service as incident_service
from firewatch.incidents.lifecycle import Status, parse_status
from firewatch.incidents.models import IncidentRow
from firewatch.incidents.schemas import IncidentOut, Role
from firewatch.postmortem.document import build_postmortem
from firewatch.severity import Severity

app = typer.Typer(help="Declare, inspect and work incidents.", no_args_is_help=True)


def _full(session: Session, row: IncidentRow) -> IncidentOut:
    return incident_queries.full_incident(session, incident_id=row.id, now=clock.now())


def _parse_severity(value: str) -> Severity:
    try:
        return Severity.parse(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _print_brief(incident: IncidentOut, verb: str) -> None:
    console.print(
        f"{verb} [bold]{incident.id}[/] {severity_text(incident.severity)} "
        f"[bold]{incident.status}[/]  {escape(incident.title)}"
    )


@app.command()
def declare(
    title: Annotated[str, typer.Argument(help="What is wrong, in a line.")],
    severity: Annotated[
        str, typer.Option("--severity", "-s", help="SEV1..SEV4 or CRITICAL/HIGH/MEDIUM/LOW.")
    ],
    description: Annotated[str, typer.Option("--description", "-d")] = "",
    model: Annotated[str | None, typer.Option("--model", "-m", help="The affected model.")] = None,
    version: Annotated[str | None, typer.Option("--version", help="The model version.")] = None,
    assign_to: Annotated[str | None, typer.Option("--assign", help="Owner's handle.")] = None,
    as_: ActorOption = None,
    json: JsonOption = False,
) -> None:
    """Declare an incident (a human report)."""
    sev = _parse_severity(severity)
    policy = config().severity_policy

    def unit(session: Session) -> IncidentOut:
        group = f"model={model}" if model else None
        if group and incident_service.find_open_incident(session, group_key=group):
            group = None
        row = incident_service.open_incident(
            session,
            title=title,
            severity=sev,
            now=clock.now(),
            policy=policy,
            actor=actor(as_),
            description=description,
            model=model,
            model_version=version,
            group_key=group,
            assigned_to=assign_to,
        )
        return _full(session, row)

    incident = write(unit)
    if json:
        console.print_json(incident.model_dump_json())
        return
    _print_brief(incident, "Declared")
    level = policy.level(sev)
    console.print(
        f"Respond by {incident.sla.response_due_at:%H:%M} UTC ({level.response}); "
        f"resolve by {incident.sla.resolution_due_at:%Y-%m-%d %H:%M} UTC."
    )


@app.command("list")
def list_incidents(
    status: Annotated[
        str | None, typer.Option(help="Comma-separated statuses, or 'open'.")
    ] = "open",
    severity: Annotated[str | None, typer.Option(help="Comma-separated severities.")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    all_: Annotated[bool, typer.Option("--all", help="Every status.")] = False,
    json: JsonOption = False,
) -> None:
    """List incidents, newest first (open ones by default)."""
    statuses: list[Status] = []
    if not all_ and status:
        names = [s for s in status.split(",") if s.strip()]
        statuses = sorted({st for n in names for st in _statuses(n)}, key=list(Status).index)
    severities = [_parse_severity(s) for s in (severity or "").split(",") if s.strip()]
    page = read(
        lambda s: incident_queries.list_incidents(
            s, now=clock.now(), statuses=statuses, severities=severities, model=model, limit=limit
        )
    )
    if json:
        console.print_json(page.model_dump_json())
        return
    if not page.items:
        console.print("No incidents match." + ("" if all_ else " (Showing open ones; try --all.)"))
        return
    table = Table(show_edge=False, header_style="bold")
    for column in ("ID", "SEV", "STATUS", "MODEL", "TITLE", "OPENED", "OWNER", "SLA"):
        table.add_column(column)
    for item in page.items:
        sla = "[bold red]BREACHED[/]" if item.sla.breached else "[green]ok[/]"
        model_name = f"{item.model or '—'}" + (
            f" {item.model_version}" if item.model_version else ""
        )
        table.add_row(
            item.id,
            severity_text(item.severity),
            item.status,
            escape(model_name),
            escape(item.title),
            ago(item.timestamp),
            item.assigned_to or "—",
            sla,
        )
    console.print(table)
    if page.total > len(page.items):
        console.print(f"[dim]{len(page.items)} of {page.total}; use --limit to see more[/]")


def _statuses(name: str) -> list[Status]:
    if name.strip().lower() == "open":
        return [s for s in Status if s.is_open]
    return [parse_status(name)]


@app.command()
def show(
    ref: Annotated[str, typer.Argument(help="INC-YYYY-NNN")], json: JsonOption = False
) -> None:
    """Show an incident: the record, SLA clocks and the timeline."""
    incident = read(lambda s: _full(s, incident_service.get_incident(s, ref=ref)))
    if json:
        console.print_json(incident.model_dump_json())
        return
    _print_brief(incident, "")
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold")
    fields.add_column()
    model = f"{incident.model or '—'}" + (
        f" (version {incident.model_version})" if incident.model_version else ""
    )
    sla = incident.sla
    rows = [
        ("Opened", f"{incident.timestamp:%Y-%m-%d %H:%M:%S} UTC ({ago(incident.timestamp)})"),
        ("Model", model),
        ("Owner", incident.assigned_to or "—"),
        ("Runbook", incident.runbook or "—"),
        (
            "Respond by",
            f"{sla.response_due_at:%H:%M:%S} UTC"
            + (" [bold red]BREACHED[/]" if sla.response_breached else ""),
        ),
        (
            "Resolve by",
            f"{sla.resolution_due_at:%Y-%m-%d %H:%M} UTC"
            + (" [bold red]BREACHED[/]" if sla.resolution_breached else ""),
        ),
        ("Root cause", incident.root_cause or "—"),
        ("Resolution", incident.resolution or "—"),
    ]
    if incident.resolution_time_minutes is not None:
        rows.append(("Resolved in", f"{incident.resolution_time_minutes} minutes"))
    for name, value in rows:
        fields.add_row(name, value if "[bold red]" in value else escape(value))
    console.print(fields)
    if incident.description:
        console.print(f"\n{escape(incident.description)}")
    timeline = Table(title="Timeline", show_edge=False, header_style="bold", title_justify="left")
    for column in ("TIME (UTC)", "KIND", "EVENT", "ACTOR"):
        timeline.add_column(column)
    for entry in incident.timeline:
        timeline.add_row(
            f"{entry.time:%H:%M:%S}", entry.kind, escape(entry.event), escape(entry.actor)
        )
    console.print()
    console.print(timeline)


def _change(ref: str, verb: str, change: object) -> None:
    def unit(session: Session) -> IncidentOut:
        row = incident_service.get_incident(session, ref=ref)
        change(session, row)  # type: ignore[operator]
        return _full(session, row)

    _print_brief(write(unit), verb)


@app.command()
def ack(ref: str, as_: ActorOption = None) -> None:
    """Acknowledge: you own it now (stops 'unacknowledged' escalation)."""
    who = actor(as_)
    _change(
        ref,
        "Acknowledged",
        lambda s, row: incident_service.acknowledge(s, incident=row, actor=who, now=clock.now()),
    )


@app.command()
def transition(
    ref: str,
    status: Annotated[str, typer.Argument(help="investigating, mitigated, resolved, closed, ...")],
    note: Annotated[str | None, typer.Option("--note")] = None,
    as_: ActorOption = None,
) -> None:
    """Move an incident to another status."""
    target, who = parse_status(status), actor(as_)
    _change(
        ref,
        "Moved",
        lambda s, row: incident_service.transition(
            s, incident=row, to=target, actor=who, now=clock.now(), note=note
        ),
    )


@app.command()
def resolve(
    ref: str,
    resolution: Annotated[
        str | None, typer.Option("--resolution", "-r", help="What fixed it.")
    ] = None,
    as_: ActorOption = None,
) -> None:
    """Resolve an incident by hand."""
    who = actor(as_)
    _change(
        ref,
        "Resolved",
        lambda s, row: incident_service.transition(
            s, incident=row, to=Status.RESOLVED, actor=who, now=clock.now(), resolution=resolution
        ),
    )


@app.command()
def note(ref: str, text: str, as_: ActorOption = None) -> None:
    """Add a note to the timeline."""
    who = actor(as_)
    _change(
        ref,
        "Noted on",
        lambda s, row: incident_service.add_note(
            s, incident=row, text=text, actor=who, now=clock.now()
        ),
    )


@app.command()
def update(
    ref: str,
    text: Annotated[str, typer.Argument(help="What stakeholders should know now.")],
    as_: ActorOption = None,
) -> None:
    """Post a status update: on the timeline and to the incident's chat / email / ticket."""
    who = actor(as_)
    _change(
        ref,
        "Status update posted for",
        lambda s, row: incident_service.post_status_update(
            s, incident=row, text=text, actor=who, now=clock.now()
        ),
    )


@app.command()
def escalate(
    ref: str,
    reason: Annotated[str, typer.Argument(help="Why more people are needed.")],
    as_: ActorOption = None,
) -> None:
    """Escalate now: the next level of the escalation policy is paged (not everyone at once)."""
    who = actor(as_)
    _change(
        ref,
        "Escalated",
        lambda s, row: incident_service.escalate(
            s, incident=row, reason=reason, actor=who, now=clock.now()
        ),
    )


@app.command()
def assign(
    ref: str,
    person: Annotated[str, typer.Argument(help="Handle of a known person.")],
    role: Annotated[Role | None, typer.Option(help="Give a role instead of ownership.")] = None,
    as_: ActorOption = None,
) -> None:
    """Assign an owner, or an incident role (commander, operations, ...)."""
    who = actor(as_)
    _change(
        ref,
        "Assigned",
        lambda s, row: incident_service.assign(
            s, incident=row, person=person, role=role, actor=who, now=clock.now()
        ),
    )


@app.command()
def severity(
    ref: str,
    level: Annotated[str, typer.Argument(help="SEV1..SEV4 or CRITICAL/HIGH/MEDIUM/LOW.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Required when lowering.")] = None,
    as_: ActorOption = None,
) -> None:
    """Raise the severity (or lower it, with a reason)."""
    sev, who, policy = _parse_severity(level), actor(as_), config().severity_policy
    _change(
        ref,
        "Updated",
        lambda s, row: incident_service.set_severity(
            s, incident=row, severity=sev, actor=who, now=clock.now(), policy=policy, reason=reason
        ),
    )


@app.command("root-cause")
def root_cause(ref: str, text: str, as_: ActorOption = None) -> None:
    """Record the root cause."""
    who = actor(as_)
    _change(
        ref,
        "Updated",
        lambda s, row: incident_service.update_record(
            s, incident=row, actor=who, now=clock.now(), root_cause=text
        ),
    )


@app.command()
def postmortem(
    ref: str,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file.")
    ] = None,
) -> None:
    """Write the post-mortem (Markdown): record, timeline, durations, versions, four questions."""
    policy = config().severity_policy
    text = read(lambda s: build_postmortem(s, ref=ref, now=clock.now(), policy=policy))
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"Wrote {output}")
