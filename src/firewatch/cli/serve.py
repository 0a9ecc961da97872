"""``firewatch serve``: the API, the ingest endpoints and every worker, in one process."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from firewatch.cli.common import STATE, ConfigOption, err_console
from firewatch.config import load_config, resolve_config_path
from firewatch.store import migrate
from firewatch.store.db import Database, redact_url


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)


def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Listen address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default 8080).")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Run Firewatch: API, probes, workers (SQLite in ./.firewatch/ unless FIREWATCH_DATABASE_URL)."""
    import uvicorn

    from firewatch.api.app import create_app
    from firewatch.api.fastlane import IngestFastLane
    from firewatch.app import Runtime

    path = resolve_config_path(config or STATE.config_path)
    settings = load_config(path)
    configure_logging(log_level)
    db = Database(STATE.database_url)
    migrate.upgrade(db)
    runtime = Runtime(settings, db)
    bind_host = host or settings.server.host
    bind_port = port if port is not None else settings.server.port
    # What the server really listens on: scheduled drills reach its API there.
    settings.server.host, settings.server.port = bind_host, bind_port
    err_console.print(
        f"Firewatch on http://{bind_host}:{bind_port}  database {redact_url(db.url)}  "
        f"config {path or '(none: defaults)'}  watching {len(settings.models)} model(s)"
    )
    uvicorn.run(
        IngestFastLane(create_app(runtime)),
        host=bind_host,
        port=bind_port,
        log_level="warning",
        access_log=False,
    )
