"""``firewatch demo-model``, ``firewatch demo-traffic``, ``firewatch demo up`` and
``firewatch demo reference``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from firewatch.demo import TrafficSummary

from firewatch.cli.common import STATE, ConfigOption, console, err_console
from firewatch.config import load_config, resolve_config_path

# firewatch.demo pulls in scikit-learn: it is imported inside the commands to keep the CLI quick.

app = typer.Typer(
    help="The demo fleet: a real model service with fault injection.", no_args_is_help=True
)

TOUR = """
[bold green]Firewatch is up[/] on {api}; the demo model [bold]{model}[/] serves v2 on {model_url}.

In another terminal, from this folder, first tell the CLI which config and token to use:
  [bold]export FIREWATCH_CONFIG={config} FIREWATCH_API_TOKEN={token}[/]

Then try:
  1. [bold].venv/bin/firewatch model list[/]                  production v2; last known good once probed
  2. [bold].venv/bin/firewatch model deploy {model} v3[/]     a broken build: /health fails
     watch this terminal: incident opened (SEV1), page sent, runbook rolls back to v2,
     health verified, incident mitigated, then resolved after 10 s of quiet
  3. [bold].venv/bin/firewatch incident list --all[/]  and  [bold].venv/bin/firewatch incident show INC-…[/]
  4. [bold].venv/bin/firewatch incident postmortem INC-…[/]  the post-mortem in Markdown
  5. an outage no deploy explains (no rollback; the runbook escalates):
     [bold]curl -X POST {model_url}/admin/faults -H 'content-type: application/json' -d '{{"outage": true}}'[/]
     then clear it: [bold]curl -X DELETE {model_url}/admin/faults[/]
  6. an error spike (HighErrorRate, SEV2):  '{{"error_rate": 0.3}}'  to the same endpoint
  7. the API: [bold]curl -H "Authorization: Bearer $FIREWATCH_API_TOKEN" {api}/api/v1/incidents[/]
     (docs at {api}/docs, metrics at {api}/metrics)
  8. data drift (the model reports its predictions, the traffic the true labels 3 s later):
     [bold]curl -X POST {model_url}/admin/faults -H 'content-type: application/json' -d '{{"input_shift": 1.3}}'[/]
     scales the size features (a unit change upstream): within a minute a SEV3 drift incident
     ("data drift likely"), raised to SEV2 by AccuracyLow; which features drifted:
     [bold].venv/bin/firewatch alert list --model {model} --json[/]

Ctrl-C stops everything; state stays in ./.firewatch/.
"""


def demo_model(
    model: Annotated[str, typer.Option("--model", "-m", help="Model name in the registry.")],
    registry_url: Annotated[
        str, typer.Option(help="Firewatch base URL.")
    ] = "http://127.0.0.1:8080",
    token: Annotated[
        str | None, typer.Option(envvar="FIREWATCH_TOKEN", help="A read token.", show_default=False)
    ] = None,
    alias: Annotated[str, typer.Option(help="Which alias to serve.")] = "production",
    poll_interval: Annotated[
        float, typer.Option(min=0.05, help="Seconds between registry polls.")
    ] = 0.5,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8081,
    ingest_token: Annotated[
        str | None,
        typer.Option(
            envvar="FIREWATCH_INGEST_TOKEN",
            help="An ingest token: report every prediction to Firewatch's events API.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve a real scikit-learn model (breast-cancer data) whose version comes from the registry."""
    from firewatch.demo import DemoSettings, serve_demo_model

    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s demo-model %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = DemoSettings(
        model_name=model,
        registry_url=registry_url,
        token=token,
        alias=alias,
        poll_interval=poll_interval,
        ingest_token=ingest_token,
    )
    reporting = "; reporting its predictions" if ingest_token else ""
    err_console.print(
        f"demo model {model} on http://{host}:{port} "
        f"(serving the {alias} alias of {registry_url}{reporting})"
    )
    serve_demo_model(settings, host=host, port=port)


def demo_traffic(
    url: Annotated[
        str, typer.Option(help="The model service's base URL.")
    ] = "http://127.0.0.1:8081",
    rps: Annotated[float, typer.Option(min=0.1, max=1000, help="Requests per second.")] = 10.0,
    duration: Annotated[
        float | None, typer.Option(min=0.1, help="Seconds (default: until Ctrl-C).")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="Only print the summary at the end.")] = False,
    firewatch_url: Annotated[
        str | None,
        typer.Option(
            help="Send the true labels to this Firewatch's labels API (needs --model).",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="The model the labels are for.")
    ] = None,
    ingest_token: Annotated[
        str | None,
        typer.Option(envvar="FIREWATCH_INGEST_TOKEN", help="An ingest token.", show_default=False),
    ] = None,
    label_delay: Annotated[
        float, typer.Option(min=0, help="Seconds between a prediction and its true label.")
    ] = 3.0,
) -> None:
    """Send steady /predict traffic to a model service and count what fails; with
    --firewatch-url, send Firewatch the true label of every prediction a little later."""
    from firewatch.demo import LabelOptions, TrafficOptions, run_traffic

    if firewatch_url is not None and model is None:
        raise typer.BadParameter("--firewatch-url needs --model (whose labels they are)")
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s demo-traffic %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)

    def report(summary: TrafficSummary) -> None:
        err_console.print(f"traffic: {summary.format()}", highlight=False)

    labels = None
    if firewatch_url is not None and model is not None:
        labels = LabelOptions(firewatch_url, model, ingest_token, delay=label_delay)
    options = TrafficOptions(
        on_report=None if quiet else report, report_interval=5.0, labels=labels
    )
    summary = run_traffic(url, rps, duration, options=options)
    console.print(summary.format(), highlight=False)


@app.command()
def up(
    config: ConfigOption = None,
    rps: Annotated[float, typer.Option(min=0.1, max=1000, help="Demo traffic, requests/s.")] = 10.0,
) -> None:
    """Start Firewatch, the demo model and its traffic (what `make run` does)."""
    from firewatch.demo.reference import write_reference
    from firewatch.demo.stack import DemoStack, run

    path = resolve_config_path(config or STATE.config_path)
    if path is None:
        raise typer.BadParameter("give --config (e.g. firewatch.example.yaml)")
    # Before the config is read: its drift.reference must name an existing file.
    reference = write_reference()
    err_console.print(f"drift reference written to {reference}")
    stack = DemoStack(path, load_config(path), STATE.database_url, rps)
    try:
        run(stack, lambda values: console.print(TOUR.format(config=path, **values)))
    except KeyboardInterrupt:
        console.print("\nstopped.")


@app.command()
def reference(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write it (default: .firewatch/demo-reference.csv).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write the demo model's drift reference (what `demo up` does before starting Firewatch):
    the test split's features, the production version's predictions and the true labels."""
    from firewatch.demo.reference import DEMO_REFERENCE, write_reference

    written = write_reference(output or DEMO_REFERENCE)
    console.print(f"drift reference written to {written}", highlight=False)
