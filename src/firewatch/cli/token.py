"""``firewatch token``: create (prints only the token), list and revoke API tokens."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from firewatch.auth import service as auth_service
from firewatch.auth.service import Scope
from firewatch.cli.common import clock, console, read, write

app = typer.Typer(help="API tokens (read / write / admin).", no_args_is_help=True)


@app.command()
def create(
    scope: Annotated[
        str,
        typer.Option("--scope", "-s", help="read, write, admin, or ingest (only sends alerts)."),
    ] = "read",
    name: Annotated[str, typer.Option("--name", "-n", help="Who or what uses it.")] = "cli",
) -> None:
    """Create a token and print it (only it, on stdout, so scripts can capture it)."""
    parsed = Scope.parse(scope)
    token = write(lambda s: auth_service.create_token(s, name=name, scope=parsed, now=clock.now()))
    typer.echo(token)


@app.command("list")
def list_tokens() -> None:
    """Tokens by id, name and scope (never the token itself)."""
    rows = read(auth_service.list_tokens)
    table = Table(show_edge=False, header_style="bold")
    for column in ("ID", "NAME", "SCOPE", "PREFIX", "CREATED", "REVOKED"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r["id"]),
            str(r["name"]),
            str(r["scope"]),
            str(r["prefix"]),
            f"{r['created_at']:%Y-%m-%d %H:%M}",
            f"{r['revoked_at']:%Y-%m-%d %H:%M}" if r["revoked_at"] else "—",
        )
    console.print(table)


@app.command()
def revoke(token_id: int) -> None:
    """Revoke a token by id."""
    write(lambda s: auth_service.revoke_token(s, token_id=token_id, now=clock.now()))
    console.print(f"Revoked token {token_id}")
