"""The job runner: claims due jobs, runs their handlers concurrently, retries with backoff.

Handlers are async functions of a `Job`. They signal the outcome by returning (done), raising
`RetryLater` (try again, no sooner than ``after``), raising `GiveUp` (never retry) or raising
anything else (retried with exponential backoff and full jitter until ``max_attempts``). When a
job is given up, its kind's ``on_dead`` unit of work runs in the same transaction that buries
it — that is how a failed notification lands on the incident timeline.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.orm import Session

from firewatch.clock import Clock
from firewatch.store import jobs as job_table
from firewatch.store.db import Database
from firewatch.store.jobs import Job
from firewatch.store.wake import wait_or_timeout
from firewatch.store.writer import Writer

log = logging.getLogger(__name__)


class RetryLater(Exception):
    """Try the job again, no sooner than ``after``."""

    def __init__(self, reason: str, *, after: timedelta | None = None) -> None:
        super().__init__(reason)
        self.after = after


class GiveUp(Exception):
    """The job can never succeed (e.g. the receiver answered 400): do not retry."""


JobHandler = Callable[[Job], Awaitable[None]]
DeadHandler = Callable[[Session, Job, str], None]


@dataclass(frozen=True)
class JobKind:
    """How to run one kind of job."""

    handler: JobHandler
    on_dead: DeadHandler | None = None
    backoff_base: timedelta = timedelta(seconds=1)
    backoff_cap: timedelta = timedelta(minutes=5)


class JobRunner:
    """Runs due jobs of the registered kinds, up to ``concurrency`` at a time."""

    def __init__(
        self,
        *,
        db: Database,
        writer: Writer,
        clock: Clock,
        kinds: dict[str, JobKind],
        concurrency: int = 32,
        lease: timedelta = timedelta(seconds=30),
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.writer = writer
        self.clock = clock
        self.kinds = kinds
        self.concurrency = concurrency
        self.lease = lease
        self.rng = rng or random.Random()
        self.wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()

    async def run_once(self) -> int:
        """Claim what is due now, run it to completion and return how many jobs ran."""
        claimed = await self._claim(self.concurrency)
        await asyncio.gather(*(self._run(job) for job in claimed))
        return len(claimed)

    async def run_forever(self, poll_interval: float = 0.5) -> None:
        try:
            while True:
                self.wake.clear()
                free = self.concurrency - len(self._running)
                claimed = await self._claim(free) if free > 0 else []
                for job in claimed:
                    task = asyncio.create_task(self._run(job), name=f"job-{job.kind}-{job.id}")
                    self._running.add(task)
                    task.add_done_callback(self._task_done)
                if claimed and len(claimed) == free:
                    await asyncio.sleep(0)  # more may be due right away
                    continue
                await self._sleep(poll_interval)
        finally:
            for task in list(self._running):
                task.cancel()
            await asyncio.gather(*self._running, return_exceptions=True)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self.wake.set()

    async def _sleep(self, poll_interval: float) -> None:
        due = await asyncio.to_thread(self._next_due)
        delay = poll_interval
        if due is not None:
            delay = max(0.0, min(poll_interval, (due - self.clock.now()).total_seconds()))
        await wait_or_timeout(self.wake, delay)

    def _next_due(self) -> datetime | None:
        with self.db.read_session() as session:
            return job_table.next_due_at(session, kinds=frozenset(self.kinds))

    async def _claim(self, limit: int) -> list[Job]:
        now = self.clock.now()
        kinds = frozenset(self.kinds)
        return await self.writer.run(
            lambda s: job_table.claim_due_jobs(
                s, now=now, limit=limit, lease=self.lease, kinds=kinds
            )
        )

    async def _run(self, job: Job) -> None:
        kind = self.kinds[job.kind]
        heartbeat = asyncio.create_task(self._heartbeat(job))
        try:
            await kind.handler(job)
        except asyncio.CancelledError:
            raise  # shutting down: the lease runs out and the job is taken again
        except RetryLater as exc:
            await self._retry_or_bury(job, kind, str(exc), minimum=exc.after)
        except GiveUp as exc:
            await self._bury(job, kind, str(exc))
        except Exception as exc:
            log.warning("job %s %s attempt %d failed: %s", job.kind, job.key, job.attempts, exc)
            await self._retry_or_bury(job, kind, f"{type(exc).__name__}: {exc}", minimum=None)
        else:
            now = self.clock.now()
            await self.writer.run(lambda s: job_table.finish_job(s, job_id=job.id, now=now))
        finally:
            heartbeat.cancel()

    async def _heartbeat(self, job: Job) -> None:
        interval = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            until = self.clock.now() + self.lease
            await self.writer.run(partial(job_table.renew_lease, job_id=job.id, until=until))

    def backoff(self, kind: JobKind, attempts: int) -> timedelta:
        """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**(n-1))]."""
        ceiling: timedelta = min(kind.backoff_cap, kind.backoff_base * 2 ** max(0, attempts - 1))
        return ceiling * self.rng.random()

    async def _retry_or_bury(
        self, job: Job, kind: JobKind, error: str, *, minimum: timedelta | None
    ) -> None:
        if job.attempts >= job.max_attempts:
            await self._bury(job, kind, f"gave up after {job.attempts} attempts: {error}")
            return
        delay = self.backoff(kind, job.attempts)
        if minimum is not None:
            delay = max(delay, minimum)
        now = self.clock.now()
        await self.writer.run(
            lambda s: job_table.retry_job(
                s, job_id=job.id, due_at=now + delay, error=error, now=now
            )
        )

    async def _bury(self, job: Job, kind: JobKind, error: str) -> None:
        now = self.clock.now()
        log.error("job %s %s is dead: %s", job.kind, job.key, error)

        def unit(session: Session) -> None:
            job_table.bury_job(session, job_id=job.id, error=error, now=now)
            if kind.on_dead is not None:
                kind.on_dead(session, job, error)

        await self.writer.run(unit)
