"""``firewatch db``: schema migrations."""

from __future__ import annotations

import typer

from firewatch.cli.common import STATE, console
from firewatch.store import migrate
from firewatch.store.db import Database, redact_url

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command()
def upgrade() -> None:
    """Create or migrate the database schema to the current version."""
    db = Database(STATE.database_url)
    try:
        before = migrate.current_revision(db)
        migrate.upgrade(db)
        after = migrate.current_revision(db)
    finally:
        db.dispose()
    where = redact_url(db.url)
    if before == after:
        console.print(f"{where}: schema already at {after}")
    else:
        console.print(f"{where}: schema {before or 'empty'} → {after}")


@app.command()
def current() -> None:
    """Show the schema version of the database and of this Firewatch."""
    db = Database(STATE.database_url)
    try:
        console.print(
            f"database: {migrate.current_revision(db) or 'empty'}; code: {migrate.head_revision()}"
        )
    finally:
        db.dispose()
