"""``firewatch runbook list|show``: the runbooks Firewatch runs, readable by people."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markdown import Markdown
from rich.markup import escape
from rich.table import Table

from firewatch.cli.common import config, console
from firewatch.runbooks.document import to_markdown
from firewatch.runbooks.library import RunbookLibrary

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
            runbook.alert or "—",
            runbook.severity.value if runbook.severity else "—",
            str(len(runbook.steps)),
        )
    console.print(table)
    console.print("Read one: firewatch runbook show NAME")


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="A runbook name from `firewatch runbook list`.")],
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the Markdown source (for a wiki or a file).")
    ] = False,
) -> None:
    """A runbook as a readable document: its steps, which are automatic, when each applies."""
    text = to_markdown(_library().get(name))
    if markdown:
        typer.echo(text, nl=False)
    else:
        console.print(Markdown(text))
