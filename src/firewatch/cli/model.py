"""``firewatch model``: the built-in registry — list, register, deploy, rollback, history."""

from __future__ import annotations

import json as jsonlib
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from firewatch.cli.common import ActorOption, JsonOption, actor, ago, clock, console, read, write
from firewatch.errors import InvalidInput
from firewatch.registry import service as registry_service
from firewatch.registry.schemas import DeploymentOut, VersionIn

app = typer.Typer(
    help="Model registry: versions, aliases and deploy history.", no_args_is_help=True
)


def _print_deployment(d: DeploymentOut, verb: str) -> None:
    console.print(
        f"{verb} [bold]{d.model}[/] {d.alias}: {d.previous_version or '—'} → [bold]{d.version}[/]"
    )


@app.command("list")
def list_models(json: JsonOption = False) -> None:
    """Every model: its production version and the last known good one."""
    models = read(registry_service.list_models)
    if json:
        console.print_json(jsonlib.dumps([m.model_dump(mode="json") for m in models]))
        return
    if not models:
        console.print("No models registered. Add one with `firewatch model register NAME VERSION`.")
        return
    table = Table(show_edge=False, header_style="bold")
    for column in ("MODEL", "PRODUCTION", "SINCE", "LAST KNOWN GOOD", "VERSIONS", "ALIASES"):
        table.add_column(column)
    for m in models:
        live = m.production
        aliases = ", ".join(f"{k}={v}" for k, v in sorted(m.aliases.items()))
        table.add_row(
            m.name,
            live.version if live else "—",
            ago(live.deployed_at) if live else "—",
            m.last_known_good or "—",
            ", ".join(v.version for v in m.versions),
            aliases,
        )
    console.print(table)


@app.command()
def register(
    name: str,
    version: str,
    meta: Annotated[
        list[str] | None, typer.Option("--meta", help="key=value metadata (repeat).")
    ] = None,
    description: Annotated[str, typer.Option("--description", "-d")] = "",
) -> None:
    """Register a version of a model (the model is created with its first version)."""
    metadata: dict[str, object] = {}
    for item in meta or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--meta {item!r}: expected key=value")
        metadata[key] = value
    body = VersionIn(version=version, metadata=metadata, description=description)

    def unit(session: Session) -> str:
        row = registry_service.register_version(
            session,
            model=name,
            version=body.version,
            now=clock.now(),
            metadata=body.metadata,
            description=body.description,
        )
        return row.version

    console.print(f"Registered [bold]{name}[/] {write(unit)}")


@app.command()
def deploy(
    name: str,
    version: str,
    alias: Annotated[str, typer.Option(help="The alias to move.")] = "production",
    reason: Annotated[str, typer.Option(help="Why (kept in the deploy history).")] = "",
    as_: ActorOption = None,
) -> None:
    """Point an alias (production by default) at a version."""
    who = actor(as_).name

    def unit(session: Session) -> DeploymentOut:
        row = registry_service.deploy(
            session,
            model=name,
            version=version,
            now=clock.now(),
            actor=who,
            alias=alias,
            reason=reason,
        )
        return registry_service.deployment_out(name, row)

    _print_deployment(write(unit), "Deployed")


@app.command()
def rollback(
    name: str,
    to: Annotated[
        str | None, typer.Option(help="Target version (default: last known good).")
    ] = None,
    alias: Annotated[str, typer.Option(help="The alias to move.")] = "production",
    reason: Annotated[str, typer.Option(help="Why.")] = "",
    as_: ActorOption = None,
) -> None:
    """Roll back to the last known good version (or --to a given one)."""
    who = actor(as_).name

    def unit(session: Session) -> DeploymentOut:
        row = registry_service.rollback(
            session, model=name, now=clock.now(), actor=who, to=to, alias=alias, reason=reason
        )
        return registry_service.deployment_out(name, row)

    _print_deployment(write(unit), "Rolled back")


@app.command()
def history(
    name: str,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    json: JsonOption = False,
) -> None:
    """Deploy history, newest first: the "recent deployments" to check during an incident."""
    rows = read(lambda s: registry_service.history(s, model=name, limit=limit))
    if json:
        console.print_json(jsonlib.dumps([r.model_dump(mode="json") for r in rows]))
        return
    table = Table(show_edge=False, header_style="bold")
    for column in (
        "DEPLOYED",
        "ALIAS",
        "VERSION",
        "REPLACED",
        "KIND",
        "BY",
        "HEALTHY",
        "FAILED",
        "REASON",
    ):
        table.add_column(column)
    for d in rows:
        table.add_row(
            f"{d.deployed_at:%Y-%m-%d %H:%M:%S}",
            d.alias,
            d.version,
            d.previous_version or "—",
            d.kind,
            escape(d.actor),
            "yes" if d.first_healthy_at else "—",
            "[red]yes[/]" if d.failed_at else "—",
            escape(d.reason or ""),
        )
    console.print(table)
