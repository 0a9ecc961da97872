"""``firewatch model``: the built-in registry — list, register, deploy, rollback, history, sync,
aliases, traffic splits and the active region."""

from __future__ import annotations

import asyncio
import dataclasses
import json as jsonlib
from datetime import timedelta
from typing import Annotated

import httpx
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
    write,
)
from firewatch.errors import InvalidInput, NotFound
from firewatch.registry import aliases as registry_aliases
from firewatch.registry import regions as registry_regions
from firewatch.registry import service as registry_service
from firewatch.registry import traffic as registry_traffic
from firewatch.registry.adapters import (
    ServingSnapshot,
    SyncSource,
    build_adapter,
    follow_deployment,
    import_snapshot,
)
from firewatch.registry.schemas import (
    DEFAULT_MIN_HEALTHY_TIME,
    DeploymentOut,
    ModelOut,
    TrafficOut,
    VersionIn,
)

app = typer.Typer(
    help="Model registry: versions, aliases and deploy history.", no_args_is_help=True
)


alias_app = typer.Typer(
    help="Aliases that do not serve traffic themselves, such as fallback.", no_args_is_help=True
)
app.add_typer(alias_app, name="alias")


def _min_healthy_time(name: str) -> timedelta:
    """The model's configured minimum healthy time for "last known good" (or the default)."""
    model = config().model(name)
    return model.rollback.min_healthy_time if model else DEFAULT_MIN_HEALTHY_TIME


def _served(m: ModelOut) -> str:
    """``v2`` or, with a split, ``v2 90% v3 10%``."""
    split = m.traffic.get("production")
    if split:
        return " ".join(f"{v} {w}%" for v, w in split.items())
    return m.production.version if m.production else "—"


def _print_deployment(d: DeploymentOut, verb: str) -> None:
    """Print the registry move, then make serving follow it (a CLI error when it does not)."""
    console.print(
        f"{verb} [bold]{d.model}[/] {d.alias}: {d.previous_version or '—'} → [bold]{d.version}[/]"
    )

    async def follow() -> str | None:
        async with httpx.AsyncClient() as client:
            return await follow_deployment(config().model(d.model), client, d)

    line = asyncio.run(follow())
    if line:
        console.print(escape(line))


@app.command("list")
def list_models(json: JsonOption = False) -> None:
    """Every model: its production version (or traffic split) and the last known good one."""
    times = {m.name: m.rollback.min_healthy_time for m in config().models}
    models = read(
        lambda s: registry_service.list_models(s, min_healthy_times=times, now=clock.now())
    )
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
            _served(m),
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
    """Roll back to the last known good version (or --to a given one).

    Last known good: the latest earlier version a probe saw healthy that then served at least the
    model's rollback.min_healthy_time (default 5m) without failing.
    """
    who = actor(as_).name
    minimum = _min_healthy_time(name)

    def unit(session: Session) -> DeploymentOut:
        row = registry_service.rollback(
            session,
            model=name,
            now=clock.now(),
            actor=who,
            to=to,
            alias=alias,
            reason=reason,
            min_healthy_time=minimum,
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


async def _snapshot(name: str) -> ServingSnapshot:
    """Read the serving system's versions through the model's configured adapter."""
    model_config = config().model(name)
    if model_config is None:
        raise NotFound(
            f"model {name!r} is not in the config file: sync reads its serving section",
            code="unknown_model",
        )
    async with httpx.AsyncClient() as client:
        adapter = build_adapter(model_config, client)
        if not isinstance(adapter, SyncSource):
            raise InvalidInput(
                f"{name}'s serving adapter is {adapter.name}: it has no versions of its own to "
                "sync from (only mlflow does)"
            )
        return await adapter.snapshot()


@app.command()
def sync(name: str, as_: ActorOption = None, json: JsonOption = False) -> None:
    """Import a model's versions from its serving system (MLflow) into the registry.

    Versions the registry lacks are added; the version the serving alias points at becomes
    production when the registry has none or another, so a rollback has a deploy history and
    a last known good to work with.
    """
    who = actor(as_).name
    snapshot = asyncio.run(_snapshot(name))
    report = write(
        lambda s: import_snapshot(s, model=name, snapshot=snapshot, now=clock.now(), actor=who)
    )
    if json:
        console.print_json(jsonlib.dumps(dataclasses.asdict(report)))
        return
    added = ", ".join(report.added) or "no new versions"
    live = report.live or "—"
    state = "now" if report.live_changed else "already"
    console.print(
        f"Synced [bold]{name}[/] from {escape(report.source)}: {added}; production {state} "
        f"[bold]{live}[/]"
    )


def _parse_weights(items: list[str]) -> dict[str, int]:
    weights: dict[str, int] = {}
    for item in items:
        version, sep, value = item.partition("=")
        if not sep or not version or not value.strip().isdigit():
            raise InvalidInput(f"{item!r}: expected VERSION=PERCENT, e.g. v2=90")
        if version in weights:
            raise InvalidInput(f"{version} is given twice")
        weights[version] = int(value)
    return weights


def _print_traffic(t: TrafficOut, verb: str) -> None:
    shares = ", ".join(f"[bold]{v}[/] {w}%" for v, w in t.weights.items()) or "no version"
    how = "split" if t.split else "all on its version"
    console.print(f"{verb} [bold]{t.model}[/] {t.alias} ({how}): {shares}")


@app.command()
def traffic(
    name: str,
    weights: Annotated[
        list[str] | None,
        typer.Argument(help="VERSION=PERCENT pairs summing to 100; none: show the split."),
    ] = None,
    alias: Annotated[str, typer.Option(help="The alias whose traffic is split.")] = "production",
    reason: Annotated[str, typer.Option(help="Why (kept with the split).")] = "",
    as_: ActorOption = None,
    json: JsonOption = False,
) -> None:
    """Show or set how an alias's traffic is split across versions (canary-like).

    `firewatch model traffic iris v2=90 v3=10` sends 10% to v3; the alias's own version must be
    listed. `v2=100` (its own version) clears the split; so does the next deploy or rollback.
    """
    if not weights:
        shown = read(lambda s: registry_traffic.get_traffic(s, model=name, alias=alias))
    else:
        wanted = _parse_weights(weights)
        who = actor(as_).name
        shown = write(
            lambda s: registry_traffic.set_traffic(
                s,
                model=name,
                alias=alias,
                weights=wanted,
                now=clock.now(),
                actor=who,
                reason=reason,
            )
        )
    if json:
        console.print_json(shown.model_dump_json())
        return
    _print_traffic(shown, "Traffic of" if not weights else "Set traffic of")


@alias_app.command("set")
def alias_set(name: str, alias: str, version: str, as_: ActorOption = None) -> None:
    """Point an alias at a version, e.g. `firewatch model alias set iris fallback v1`.

    The fallback alias names the simple, robust version the switch_to_fallback action moves
    production to. Served aliases (production) move only by deploy or rollback.
    """
    who = actor(as_).name
    write(
        lambda s: registry_aliases.set_alias(
            s, model=name, alias=alias, version=version, now=clock.now(), actor=who
        )
    )
    console.print(f"[bold]{name}[/] {alias} → [bold]{version}[/]")


@alias_app.command("remove")
def alias_remove(name: str, alias: str, as_: ActorOption = None) -> None:
    """Remove a non-serving alias."""
    who = actor(as_).name
    version = write(
        lambda s: registry_aliases.remove_alias(
            s, model=name, alias=alias, now=clock.now(), actor=who
        )
    )
    console.print(f"Removed [bold]{name}[/] {alias} (was {version})")


@app.command()
def region(
    name: str,
    to: Annotated[
        str | None,
        typer.Argument(help="Record that the model is now served from this region."),
    ] = None,
    reason: Annotated[str, typer.Option(help="Why (kept with the switch).")] = "",
    as_: ActorOption = None,
) -> None:
    """Show the region serving a model (models[].endpoints), or record a switch to another.

    Recording calls no hook: use it when the traffic was moved outside Firewatch (or to fail
    back after an incident); Firewatch's probes follow within seconds.
    """
    model = config().model(name)
    if model is None or not model.endpoints:
        raise InvalidInput(f"model {name!r} has no endpoints in the config (models[].endpoints)")
    regions = [e.region for e in model.endpoints]
    if to is not None:
        who = actor(as_).name
        write(
            lambda s: registry_regions.switch_region(
                s, model=name, to=to, regions=regions, now=clock.now(), actor=who, reason=reason
            )
        )
    active = read(lambda s: registry_regions.active_region(s, model=name))
    current = active if active in regions else regions[0]
    for endpoint in model.endpoints:
        mark = "→" if endpoint.region == current else " "
        primary = " (primary)" if endpoint is model.endpoints[0] else ""
        console.print(f"{mark} {endpoint.region}{primary}  {endpoint.url}")
