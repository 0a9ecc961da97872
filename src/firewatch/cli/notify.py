"""``firewatch notify failed`` (dead letters) and ``firewatch notify retry``."""

from __future__ import annotations

import json as jsonlib
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from firewatch.cli.common import JsonOption, ago, clock, console, read, write
from firewatch.errors import NotFound
from firewatch.incidents.models import IncidentRow
from firewatch.notify.worker import DELIVER_JOB
from firewatch.store.jobs import JobRow, JobStatus

app = typer.Typer(help="Notification deliveries.", no_args_is_help=True)


def _failed(session: Session, limit: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(JobRow, IncidentRow.display_id)
        .join(IncidentRow, IncidentRow.id == JobRow.incident_id, isouter=True)
        .where(JobRow.kind == DELIVER_JOB, JobRow.status == JobStatus.DEAD.value)
        .order_by(JobRow.finished_at.desc(), JobRow.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "job": job.id,
            "incident": ref,
            "channel": job.payload.get("channel"),
            "intent": job.payload.get("intent"),
            "target": job.payload.get("target"),
            "message": job.payload.get("message"),
            "notification_id": job.payload.get("id"),
            "attempts": job.attempts,
            "error": job.last_error,
            "failed_at": job.finished_at,
        }
        for job, ref in rows
    ]


@app.command("failed")
def failed(
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    json: JsonOption = False,
) -> None:
    """Notifications that could not be delivered after every retry (dead letters)."""
    found = read(lambda s: _failed(s, limit))
    if json:
        typer.echo(jsonlib.dumps(found, default=str, indent=2))
        return
    if not found:
        console.print("No failed notifications.")
        return
    table = Table(box=None, header_style="bold")
    for column in ("JOB", "INCIDENT", "CHANNEL", "TARGET", "ATTEMPTS", "FAILED", "ERROR"):
        table.add_column(column)
    for row in found:
        table.add_row(
            str(row["job"]),
            row["incident"] or "—",
            escape(str(row["channel"])),
            escape(str(row["target"])),
            str(row["attempts"]),
            ago(row["failed_at"]),
            escape(str(row["error"] or "")[:120]),
        )
    console.print(table)
    console.print(
        f"{len(found)} failed. Fix the channel (config, secret, receiver), then: "
        "firewatch notify retry JOB"
    )


@app.command("retry")
def retry(job: Annotated[int, typer.Argument(help="The JOB number from `notify failed`.")]) -> None:
    """Deliver a failed notification again (same idempotency id: receivers drop duplicates)."""

    def unit(session: Session) -> None:
        now = clock.now()
        done = session.execute(
            update(JobRow)
            .where(
                JobRow.id == job,
                JobRow.kind == DELIVER_JOB,
                JobRow.status == JobStatus.DEAD.value,
            )
            .values(
                status=JobStatus.PENDING.value,
                attempts=0,
                due_at=now,
                finished_at=None,
                updated_at=now,
            )
        )
        if done.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound(f"no failed notification {job} (see: firewatch notify failed)")

    write(unit)
    console.print(f"Notification {job} queued again; the server delivers it within seconds.")
