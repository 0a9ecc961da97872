"""The server's drill scheduler: one durable job per configured schedule for its next due time;
each run is a real drill over HTTP against the configured target, with a short-lived token."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import httpx
from sqlalchemy.orm import Session

from firewatch.auth import service as auth_service
from firewatch.auth.service import Scope
from firewatch.clock import Clock
from firewatch.drills.report import ReportContext, write_report
from firewatch.drills.runner import DrillOptions, DrillTarget, run_drills
from firewatch.drills.scenarios import select
from firewatch.drills.schemas import DrillTrigger
from firewatch.drills.settings import DrillSchedule, next_due
from firewatch.errors import ConfigError
from firewatch.store import jobs as job_table
from firewatch.store.jobs import Job
from firewatch.store.writer import Writer

if TYPE_CHECKING:
    from firewatch.config import FirewatchConfig

log = logging.getLogger(__name__)

SCHEDULED_JOB = "drill.scheduled"
TOKEN_NAME = "drill-schedule"


def target_from_config(
    config: FirewatchConfig,
    *,
    token: str,
    model: str | None = None,
    model_url: str | None = None,
    api_url: str | None = None,
) -> DrillTarget:
    """The drill target: explicit values first, then ``drills.target``, then the config."""
    drills = config.drills.target
    name = model or drills.model or (config.models[0].name if len(config.models) == 1 else None)
    if name is None:
        raise ConfigError(
            "which model? give --model (or drills.target.model in the config); configured: "
            + (", ".join(m.name for m in config.models) or "none")
        )
    url = model_url or (str(drills.model_url) if drills.model_url else None)
    if url is None:
        watched = config.model(name)
        found = (watched.url or watched.health_url) if watched else None
        if found is None:
            raise ConfigError(
                f"where is {name}'s service? give --model-url (the model service's base URL)"
            )
        url = f"{found.scheme}://{found.host}:{found.port}"
    api = api_url or (str(drills.api_url) if drills.api_url else None) or _server_url(config)
    return DrillTarget(api.rstrip("/"), token, name, url.rstrip("/"))


def _server_url(config: FirewatchConfig) -> str:
    host = config.server.host
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104 - mapped away
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.server.port}"


def _job_key(entry: DrillSchedule, due: datetime) -> str:
    return f"drill:{entry.key}:{due.isoformat()}"[:255]


def enqueue_next(session: Session, *, entry: DrillSchedule, after: datetime, now: datetime) -> None:
    """Schedule ``entry``'s next run after ``after`` (idempotent: one job per due time)."""
    due = next_due(entry.cron, entry.time_zone, after)
    job_table.enqueue_job(
        session,
        kind=SCHEDULED_JOB,
        key=_job_key(entry, due),
        payload={"schedule": entry.key, "due": due.isoformat()},
        due_at=due,
        now=now,
        max_attempts=1,
    )


@dataclass
class DrillScheduler:
    """Runs the configured schedules from the job table, each run as a real drill over HTTP."""

    config: FirewatchConfig
    writer: Writer
    clock: Clock
    client: httpx.AsyncClient

    def _entries(self) -> dict[str, DrillSchedule]:
        return {entry.key: entry for entry in self.config.drills.schedule}

    def enqueue_all(self, session: Session) -> None:
        """At start-up: make sure every schedule has its next run queued."""
        now = self.clock.now()
        for entry in self.config.drills.schedule:
            enqueue_next(session, entry=entry, after=now, now=now)

    async def run_job(self, job: Job) -> None:
        entry = self._entries().get(str(job.payload["schedule"]))
        if entry is None:
            log.info("scheduled drill %s is no longer configured; not run", job.payload)
            return
        due, now = datetime.fromisoformat(str(job.payload["due"])), self.clock.now()
        await self.writer.run(lambda s: enqueue_next(s, entry=entry, after=due, now=now))
        if now - due > self.config.drills.max_lateness:
            log.warning("scheduled drill %s due at %s skipped: too late", entry.scenario, due)
            return
        await self.run_now(entry.scenario)

    async def run_now(self, scenario: str) -> None:
        """Run a scenario (or all) against the configured target with a short-lived token."""
        now = self.clock.now()
        token = await self.writer.run(
            lambda s: auth_service.create_token(s, name=TOKEN_NAME, scope=Scope.WRITE, now=now)
        )
        try:
            target = target_from_config(self.config, token=token)
            options = DrillOptions(trigger=DrillTrigger.SCHEDULE)
            log.info("scheduled drill %s on %s starts", scenario, target.model)
            runs = await run_drills(
                target, select(scenario), options, _log_progress, client=self.client
            )
        finally:
            await self.writer.run(lambda s: _revoke(s, token, self.clock.now()))
        for run in runs:
            log.info("scheduled drill %s: %s %s", run.scenario, run.outcome, run.failures or "")
        report = self.config.drills.report
        if report is not None and len(runs) > 1:
            context = ReportContext(
                target.api_url, target.model, self.clock.now(), "a scheduled game day"
            )
            await asyncio.to_thread(write_report, runs, context, report)


def _revoke(session: Session, token: str, now: datetime) -> None:
    info = auth_service.verify_token(session, token=token)
    if info is not None:
        auth_service.revoke_token(session, token_id=info.id, now=now)


def _log_progress(scenario: str, text: str) -> None:
    log.info("drill %s: %s", scenario, text)
