"""Wiring: builds every stage from the configuration and runs the workers. Only this module
knows all the stages; they meet nowhere else but in the event log and the job table."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from multiprocessing.process import BaseProcess
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import Session

from firewatch.alerts import log as alert_log
from firewatch.alerts import service as alerts_service
from firewatch.alerts import verification
from firewatch.alerts.admission import Admission
from firewatch.alerts.ingest import parse_alertmanager, parse_grafana
from firewatch.alerts.journal import Journal, open_journal
from firewatch.alerts.pipeline import AUTO_RESOLVE_JOB, AlertPolicy
from firewatch.alerts.process import start_processor_process, stop_processor_process
from firewatch.alerts.processor import AlertProcessor, Decoder
from firewatch.alerts.schemas import Alert
from firewatch.clock import Clock, SystemClock
from firewatch.comms import cadence as comms_cadence
from firewatch.comms.cadence import Cadence
from firewatch.config import FirewatchConfig
from firewatch.detect.events import InferenceEvents
from firewatch.detect.runner import DetectionRunner
from firewatch.detect.verify import Verifier, can_verify
from firewatch.drills import schedule as drill_schedule
from firewatch.errors import ConfigError, NotFound
from firewatch.metrics import FirewatchCollector
from firewatch.notify import escalation as escalation_engine
from firewatch.notify import secrets
from firewatch.notify import worker as notify_worker
from firewatch.notify.channels import build_channel
from firewatch.notify.escalation import EscalationEngine
from firewatch.people import service as people_service
from firewatch.registry import service as registry_service
from firewatch.registry import traffic as registry_traffic
from firewatch.registry.regions import ActiveEndpoints
from firewatch.runbooks import engine as runbook_engine
from firewatch.runbooks import investigation
from firewatch.runbooks import runs as runbook_runs
from firewatch.runbooks.library import RunbookLibrary
from firewatch.runbooks.steps.base import EvidenceSources
from firewatch.severity import Severity
from firewatch.store import events as event_log
from firewatch.store import jobs as job_table
from firewatch.store.consumer import EventConsumer
from firewatch.store.db import Database
from firewatch.store.jobs import JOBS_ENQUEUED, Job
from firewatch.store.runner import JobKind, JobRunner
from firewatch.store.writer import Writer

log = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(hours=1)
STOP_TIMEOUT_S = 10.0
RUNBOOK_RECHECK = timedelta(seconds=2)  # a resolve held by a running runbook looks again


def alert_policy(config: FirewatchConfig, library: RunbookLibrary) -> AlertPolicy:
    return AlertPolicy(
        severity=config.severity_policy,
        group_by=tuple(config.incidents.group_by),
        resolve_quiet_period=config.incidents.resolve_quiet_period,
        auto_resolve=config.incidents.auto_resolve,
        runbook_response=library.response_time,
        runbook_for=library.for_alert,
        inhibit_rules=tuple(config.alerts.inhibit_rules),
        maintenance=tuple(config.alerts.maintenance),
        verify_models=frozenset(
            m.name for m in config.models if config.alerts.verify_external and can_verify(m)
        ),
    )


def alert_decoders() -> dict[str, Decoder]:
    """How each source's logged bodies are read back."""
    return {
        alert_log.INTERNAL: alert_log.decode_internal,
        "alertmanager": parse_alertmanager,
        "grafana": parse_grafana,
    }


def check_references(config: FirewatchConfig, library: RunbookLibrary) -> None:
    """Cross-checks the config cannot do alone: every model's runbook must exist."""
    for index, model in enumerate(config.models):
        if model.runbook and not library.known(model.runbook):
            raise ConfigError(
                f"models.{index}.runbook: no runbook named {model.runbook!r} "
                f"(known: {', '.join(library.names())})"
            )


@dataclass
class StoreSink:
    """Detection's sink: alerts into alert processing, health into the registry."""

    writer: Writer
    db: Database
    clock: Clock
    accept: Callable[[str, bytes, list[Alert]], Awaitable[None]]  # never waits for room

    async def alerts(self, alerts: list[Alert]) -> None:
        """Into the alert journal, like any other source; the processor does the rest."""
        await self.accept(alert_log.INTERNAL, alert_log.encode_alerts(alerts), alerts)

    async def health(
        self, model: str, healthy: bool, at: datetime, version: str | None = None
    ) -> None:
        if healthy and not await self.db.read(lambda s: _unsettled(s, model)):
            return  # a healthy probe changes nothing once the live deployment is settled
        await self.writer.run(
            lambda s: registry_service.record_health(
                s, model=model, healthy=healthy, at=at, version=version
            )
        )

    async def current_version(self, model: str) -> str | None:
        def read(session: Session) -> str | None:
            live = registry_service.live_deployment(session, model=model)
            return live.version.version if live else None

        return await self.db.read(read)

    async def served_versions(self, model: str) -> frozenset[str]:
        return await self.db.read(lambda s: _served(s, model))


def _served(session: Session, model: str) -> frozenset[str]:
    try:
        weights = registry_traffic.get_traffic(session, model=model).weights
    except NotFound:
        return frozenset()
    return frozenset(version for version, weight in weights.items() if weight > 0)


def _unsettled(session: Session, model: str) -> bool:
    """Whether the live deployment has been seen neither healthy nor failing yet."""
    live = registry_service.live_deployment(session, model=model)
    return live is not None and live.first_healthy_at is None and live.failed_at is None


@dataclass
class Runtime:
    """Everything a running Firewatch holds: config, database, writer and the workers."""

    config: FirewatchConfig
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    run_workers: bool = True
    poll_interval: float = 0.5
    library: RunbookLibrary = field(init=False)
    journal: Journal = field(init=False)
    admission: Admission = field(init=False)
    events: InferenceEvents = field(init=False)  # inference-event windows, fed by the API
    detection: DetectionRunner | None = field(init=False, default=None)
    writer: Writer = field(init=False)
    metrics: CollectorRegistry = field(init=False)
    client: httpx.AsyncClient = field(init=False)
    consumers: list[EventConsumer] = field(init=False, default_factory=list)
    jobs: JobRunner | None = field(init=False, default=None)
    alerts: AlertProcessor | None = field(init=False, default=None)
    _processor: BaseProcess | None = field(init=False, default=None)
    redactor: secrets.Redactor = field(init=False, default_factory=secrets.Redactor)
    _unredact: Callable[[], None] = field(init=False, default=lambda: None)
    _tasks: list[asyncio.Task[None]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.journal = open_journal(self.db)
        self.events = InferenceEvents(self.config.models)
        self.admission = Admission(
            self.journal,
            limit=self.config.alerts.max_backlog,
            wait=self.config.alerts.backlog_wait.total_seconds(),
        )
        self.library = RunbookLibrary.load(self.config.runbooks.directory)
        check_references(self.config, self.library)
        self.writer = Writer(self.db)
        self.metrics = CollectorRegistry()
        self.metrics.register(FirewatchCollector(self))

    async def accept_alerts(
        self, source: str, payload: bytes, alerts: list[Alert], *, external: bool = True
    ) -> None:
        """Make a received batch durable (the caller answers 2xx after this), hand the parsed
        alerts to an in-process processor and wake it. External senders wait for room in the
        backlog first (`Overloaded` if none comes); Firewatch's own detection never does."""
        if external:
            await self.admission.admit()
        batch_id = await self.journal.append(
            source=source, payload=payload, count=len(alerts), received_at=self.clock.now()
        )
        self.admission.accepted(len(alerts))
        if self.alerts is not None:
            self.alerts.offer(batch_id, alerts)
            self.alerts.wake.set()

    @property
    def alert_policy(self) -> AlertPolicy:
        return alert_policy(self.config, self.library)

    async def start(self) -> None:
        self.redactor = secrets.Redactor.from_channels(self.config.channels)
        self._unredact = secrets.install_log_redaction(self.redactor)
        for problem in secrets.missing_secrets(self.config.channels):
            log.warning("%s", problem)
        self.writer.start()
        now = self.clock.now()
        people = self.config.people
        await self.writer.run(
            lambda s: [people_service.upsert_person(s, person=p, now=now) for p in people]
        )
        self.client = httpx.AsyncClient(follow_redirects=False)
        if not self.run_workers:
            return
        self._build_workers()
        loop = asyncio.get_running_loop()
        self.writer.add_commit_hook(lambda info: _call_soon(loop, self._wake, info))
        assert self.jobs is not None
        drills = drill_schedule.DrillScheduler(self.config, self.writer, self.clock, self.client)
        self.jobs.kinds[drill_schedule.SCHEDULED_JOB] = JobKind(drills.run_job)
        await self.writer.run(drills.enqueue_all)
        self._spawn(self.jobs.run_forever(self.poll_interval), "jobs")
        for consumer in self.consumers:
            self._spawn(consumer.run_forever(self.poll_interval), f"consumer-{consumer.name}")
        if self.alerts is not None:
            self._spawn(self.alerts.run_forever(self.poll_interval), "alert-processor")
        else:
            self._processor = start_processor_process(
                self.config.model_dump(mode="json", by_alias=True), self.db.url
            )
        assert self.detection is not None
        self._spawn(self.detection.run(), "detection")
        self._spawn(self._prune_forever(), "prune")

    def _build_workers(self) -> None:
        sink = StoreSink(
            self.writer,
            self.db,
            self.clock,
            lambda source, payload, alerts: self.accept_alerts(
                source, payload, alerts, external=False
            ),
        )
        self.detection = DetectionRunner(
            self.config,
            sink=sink,
            clock=self.clock,
            client=self.client,
            registry=self.metrics,
            events=self.events,
            endpoints=ActiveEndpoints(self.db),  # probes follow a failover to another region
        )
        if self.config.alerts.processor == "thread":
            self.alerts = AlertProcessor(
                journal=self.journal,
                writer=self.writer,
                clock=self.clock,
                policy=self.alert_policy,
                decoders=alert_decoders(),
            )
        else:  # another process commits incidents: hear of them sooner than the usual poll
            self.poll_interval = min(self.poll_interval, 0.1)
        channels = {c.name: build_channel(c, client=self.client) for c in self.config.channels}
        escalation = self.config.escalation
        notify = notify_worker.NotifyWorker(
            self.config.notify,
            self.config.severity_policy,
            channels,
            self.db,
            self.writer,
            self.clock,
            escalates=frozenset(s for s in Severity if escalation.policy_for(s) is not None),
            redact=self.redactor.redact,
            templates={
                c.name: {str(k): v for k, v in c.templates.items()}
                for c in self.config.channels
                if c.templates
            },
        )
        escalations = EscalationEngine(
            escalation,
            self.config.notify,
            self.writer,
            self.clock,
            resolve=escalation_engine.oncall_targets(self.config.oncall),
        )
        cadence = Cadence(self.config.comms, self.config.notify, self.writer, self.clock)
        investigator = self._investigator()
        runbooks = runbook_engine.RunbookEngine(
            self.library,
            self.config,
            self.db,
            self.writer,
            self.clock,
            self.client,
            evidence=investigator.sources,
        )
        self.consumers = [
            EventConsumer(
                name, handler, types=types, db=self.db, writer=self.writer, clock=self.clock
            )
            for name, handler, types in (
                (notify_worker.CONSUMER, notify.on_event, notify.types),
                (escalation_engine.CONSUMER, escalations.on_event, escalations.types),
                (comms_cadence.CONSUMER, cadence.on_event, cadence.types),
                (runbook_engine.CONSUMER, runbooks.on_event, runbooks.types),
                (investigation.CONSUMER, investigator.on_event, investigator.types),
            )
        ]
        verifier = Verifier(
            {m.name: m for m in self.config.models},
            self.detection.engine.rules,
            client=self.client,
            store=self.detection.store,
            scrapers={s.model.name: s for s in self.detection.scrapers},
        )
        verify, verify_dead = verification.verify_handlers(verifier.verify, self.writer, self.clock)
        self.jobs = JobRunner(
            kinds={
                notify_worker.DELIVER_JOB: JobKind(notify.deliver, on_dead=notify.on_dead),
                escalation_engine.LEVEL_JOB: JobKind(escalations.fire),
                comms_cadence.REMINDER_JOB: JobKind(cadence.check),
                runbook_runs.RUN_JOB: JobKind(runbooks.run_job),
                investigation.INVESTIGATE_JOB: JobKind(
                    investigator.investigate, on_dead=investigator.on_dead
                ),
                AUTO_RESOLVE_JOB: JobKind(self._auto_resolve),
                verification.VERIFY_JOB: JobKind(verify, on_dead=verify_dead),
            },
            db=self.db,
            writer=self.writer,
            clock=self.clock,
        )

    def _investigator(self) -> investigation.Investigator:
        """The investigation at incident open, reading what detection holds in memory."""
        assert self.detection is not None
        detection, events, clock = self.detection, self.events, self.clock
        sources = EvidenceSources(
            signals=detection.current_signals,
            failures=lambda model: events.failures(model, clock.now()),
            drift=detection.drift_findings,
        )
        return investigation.Investigator(
            self.config, self.db, self.writer, self.clock, self.client, sources
        )

    async def _auto_resolve(self, job: Job) -> None:
        quiet = timedelta(seconds=float(job.payload["quiet_period_s"]))
        incident_id = int(job.payload["incident_id"])
        now = self.clock.now()

        def unit(session: Session) -> None:
            running = runbook_runs.is_running(session, incident_id)
            resolved = alerts_service.auto_resolve(
                session,
                incident_id=incident_id,
                quiet_period=quiet,
                now=now,
                runbook_running=running,
            )
            if not resolved and running:  # look again once it may be done
                job_table.enqueue_job(
                    session,
                    kind=AUTO_RESOLVE_JOB,
                    key=f"autoresolve:{incident_id}:{now.isoformat()}:held",
                    payload=job.payload,
                    due_at=now + RUNBOOK_RECHECK,
                    now=now,
                    incident_id=incident_id,
                )

        await self.writer.run(unit)

    def _wake(self, info: dict[str, object]) -> None:
        if info.get(event_log.EVENTS_APPENDED):
            for consumer in self.consumers:
                consumer.wake.set()
        if info.get(JOBS_ENQUEUED) and self.jobs is not None:
            self.jobs.wake.set()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(_report_crash)
        self._tasks.append(task)

    async def _prune_forever(self) -> None:
        names = [c.name for c in self.consumers]
        while True:
            before = self.clock.now() - self.config.retention

            def prune(session: Session, before: datetime = before) -> tuple[int, int, int]:
                return (
                    event_log.prune_events(session, before=before, consumers=names),
                    alerts_service.prune_cleared_alerts(session, before=before),
                    job_table.prune_finished_jobs(session, before=before),
                )

            counts = await self.writer.run(prune)
            if any(counts):
                log.info("pruned %d events, %d alerts, %d jobs older than %s", *counts, before)
            await asyncio.sleep(PRUNE_EVERY.total_seconds())

    async def stop(self) -> None:
        if self._processor is not None:
            await asyncio.to_thread(stop_processor_process, self._processor)
            self._processor = None
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _, stuck = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_S)
            for task in stuck:
                log.error("worker %s did not stop within %gs", task.get_name(), STOP_TIMEOUT_S)
        self._tasks.clear()
        with contextlib.suppress(AttributeError):
            await self.client.aclose()
        await asyncio.to_thread(self.writer.stop)
        self._unredact()


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("worker %s stopped: %r", task.get_name(), task.exception())


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Any, info: dict[str, Any]) -> None:
    if not loop.is_closed():
        loop.call_soon_threadsafe(fn, info)
