"""What every command shares: the database, the config, the acting user, output helpers."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from firewatch.clock import SystemClock
from firewatch.config import FirewatchConfig, load_config, resolve_config_path
from firewatch.duration import format_duration
from firewatch.incidents.service import Actor
from firewatch.severity import Severity
from firewatch.store import migrate
from firewatch.store.db import Database

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # an error stays on one line in logs

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (default: $FIREWATCH_CONFIG or ./firewatch.yaml).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ActorOption = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="Who is acting (default: $FIREWATCH_USER or your login name).",
        show_default=False,
    ),
]

SEVERITY_STYLE = {
    Severity.SEV1: "bold white on red",
    Severity.SEV2: "bold red",
    Severity.SEV3: "yellow",
    Severity.SEV4: "cyan",
}


@dataclass
class State:
    """Root options, shared by every command."""

    config_path: Path | None = None
    database_url: str | None = None


STATE = State()
clock = SystemClock()


def config() -> FirewatchConfig:
    return load_config(resolve_config_path(STATE.config_path))


@contextmanager
def database() -> Iterator[Database]:
    """The database, migrated to the current schema."""
    db = Database(STATE.database_url)
    try:
        migrate.upgrade(db)
        yield db
    finally:
        db.dispose()


def write(fn: Callable[[Session], T]) -> T:
    with database() as db, db.write_session() as session:
        return fn(session)


def read(fn: Callable[[Session], T]) -> T:
    with database() as db, db.read_session() as session:
        return fn(session)


def actor(name: str | None) -> Actor:
    return Actor(name or os.environ.get("FIREWATCH_USER") or getpass.getuser())


def severity_text(severity: Severity | str) -> str:
    sev = Severity.parse(str(severity))
    return f"[{SEVERITY_STYLE[sev]}] {sev.value} [/]"


def ago(when: datetime | None) -> str:
    if when is None:
        return "—"
    return format_duration(datetime.now(UTC) - when) + " ago"
