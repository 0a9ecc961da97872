"""The ``firewatch`` entry point: root options and the nouns."""

from __future__ import annotations

from typing import Annotated

import typer

from firewatch import __version__
from firewatch.cli import (
    alert,
    db,
    demo,
    drift,
    drill,
    incident,
    model,
    notify,
    oncall,
    runbook,
    token,
)
from firewatch.cli.common import STATE, ConfigOption, console
from firewatch.cli.errors import run_guarded
from firewatch.cli.serve import serve

app = typer.Typer(
    help="Firewatch: incident response for machine-learning models in production.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"firewatch {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    config: ConfigOption = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="FIREWATCH_DATABASE_URL",
            show_envvar=True,
            help="SQLite or PostgreSQL URL (default: SQLite in ./.firewatch/).",
            show_default=False,
        ),
    ] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
) -> None:
    """Watch models, open incidents, notify, roll back, write post-mortems."""
    STATE.config_path = config
    STATE.database_url = database_url


app.command()(serve)
app.add_typer(incident.app, name="incident")
app.add_typer(model.app, name="model")
app.add_typer(alert.alert_app, name="alert")
app.add_typer(alert.silence_app, name="silence")
app.add_typer(oncall.app, name="oncall")
app.add_typer(notify.app, name="notify")
app.add_typer(runbook.app, name="runbook")
app.add_typer(token.app, name="token")
app.add_typer(db.app, name="db")
app.add_typer(drift.app, name="drift")
app.add_typer(drill.app, name="drill")
app.add_typer(demo.app, name="demo")
app.command("demo-model")(demo.demo_model)
app.command("demo-traffic")(demo.demo_traffic)


def main() -> None:
    run_guarded(app)
