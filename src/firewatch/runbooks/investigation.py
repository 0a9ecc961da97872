"""The automatic investigation at incident open (the seed's Step 3): recent deployments, drift and
data quality, failed requests, current signals and the service's recent logs, gathered into one
``investigation`` timeline entry. A source that cannot be read is named under ``problems``;
nothing it finds or misses stops the incident's other work.

The consumer handler only enqueues a durable job (``runbook.investigate``, one per incident);
the job gathers — logs may take seconds — and records.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from firewatch.clock import Clock
from firewatch.config import FirewatchConfig
from firewatch.duration import format_duration
from firewatch.errors import FirewatchError
from firewatch.incidents.lifecycle import Status
from firewatch.incidents.models import IncidentRow, TimelineEntryRow
from firewatch.incidents.timeline import OPENED_EVENT, TimelineKind, record
from firewatch.registry import service as registry_service
from firewatch.runbooks import logs as model_logs
from firewatch.runbooks.steps.base import EvidenceSources
from firewatch.store import jobs as job_table
from firewatch.store.db import Database
from firewatch.store.events import Event
from firewatch.store.jobs import Job
from firewatch.store.writer import Writer

if TYPE_CHECKING:  # detection's value types; the readers come from app.py
    from firewatch.detect.events import Failures
    from firewatch.detect.runner import DriftFindings

log = logging.getLogger(__name__)

CONSUMER = "investigation"
INVESTIGATE_JOB = "runbook.investigate"
ACTOR = "firewatch:investigation"
SAMPLES_SHOWN = 10  # failed requests kept on the timeline
DEPLOY_FIELDS = {"version", "previous_version", "alias", "kind", "actor", "reason", "deployed_at"}


@dataclass(frozen=True)
class Section:
    """One part of the investigation: JSON-ready details, a phrase for the summary line, and
    what could not be gathered."""

    details: Any = None
    summary: str = ""
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Investigation:
    sections: dict[str, Section]  # deployments, signals, drift, error_samples, logs

    def text(self) -> str:
        """The line a person reads: ``Investigation: v3 deployed 42s before the incident …``."""
        parts = [s.summary for s in self.sections.values() if s.summary]
        return "Investigation: " + ("; ".join(parts) or "nothing could be gathered")

    def details(self) -> dict[str, Any]:
        found: dict[str, Any] = {name: s.details for name, s in self.sections.items()}
        found["problems"] = [p for s in self.sections.values() for p in s.problems]
        return found


def percent(value: float) -> str:
    """``31%``; ``0.4%`` below one percent."""
    return f"{value:.1%}" if 0 < value < 0.01 else f"{value:.0%}"


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.1f}s"


def deployments_section(
    session: Session, *, model: str, opened_at: datetime, window: timedelta
) -> Section:
    """Deployments of ``model`` in the ``window`` before ``opened_at``, and what is live."""
    try:
        row = registry_service.get_model(session, name=model)
    except FirewatchError:
        return Section(
            summary="deployments unknown",
            problems=[
                f"deployments: {model} is not in Firewatch's registry, so its deploy "
                "history is unknown (register versions with `firewatch model register`)"
            ],
        )
    recent = registry_service.history(
        session, model=model, since=opened_at - window, until=opened_at
    )
    live = registry_service.current_deployment(session, model_id=row.id)
    good = registry_service.last_known_good(session, model_id=row.id)
    details = {
        "window_s": window.total_seconds(),
        "live": {"version": live.version.version, "deployed_at": live.deployed_at.isoformat()}
        if live
        else None,
        "last_known_good": good.version if good else None,
        "recent": [
            {
                **d.model_dump(mode="json", include=DEPLOY_FIELDS),
                "before_incident_s": (opened_at - d.deployed_at).total_seconds(),
            }
            for d in recent
        ],
    }
    if not recent:
        phrase = f"no deploy in the {format_duration(window)} before the incident"
        if live is not None:
            age = format_duration(opened_at - live.deployed_at)
            phrase += f" ({live.version.version} live for {age})"
        return Section(details, phrase)
    latest = recent[0]
    ago = format_duration(opened_at - latest.deployed_at)
    alias = "" if latest.alias == registry_service.PRODUCTION else f" ({latest.alias})"
    if latest.kind == "rollback":
        phrase = f"rolled back to {latest.version}{alias} {ago} before the incident"
    else:
        phrase = f"{latest.version} deployed{alias} {ago} before the incident"
    phrase += f" (replacing {latest.previous_version or 'nothing'})"
    if len(recent) > 1:
        phrase = f"{len(recent)} deploys in the {format_duration(window)} before; latest: {phrase}"
    return Section(details, phrase)


def by_type_phrase(failures: Failures | None, *, shown: int = 3) -> str:
    """``ValueError 80%, timeout 20%`` — error types as shares of the failed requests."""
    if failures is None or not failures.errors:
        return ""
    top = list(failures.by_type.items())[:shown]
    return ", ".join(f"{kind} {percent(n / failures.errors)}" for kind, n in top)


def failures_details(failures: Failures, *, samples: int = SAMPLES_SHOWN) -> dict[str, Any]:
    return {
        "window_s": failures.window.total_seconds(),
        "requests": failures.requests,
        "errors": failures.errors,
        "by_type": failures.by_type,
        "top_error_type": next(iter(failures.by_type), None),
        "samples": [
            {
                "request_id": f.request_id,
                "at": f.at.isoformat(),
                "version": f.version,
                "error_type": f.error_type,
                "message": f.message,
                "segment": f.segment,
                "features": f.features,
            }
            for f in failures.samples[-samples:]
        ],
    }


def metrics_phrase(signals: dict[str, float], failures: Failures | None) -> str:
    """``error rate 31% (by error type: ValueError 80%), p95 latency 1.2s, accuracy 78%``."""
    parts = []
    rate = signals.get("error_rate")
    if rate is None and failures is not None and failures.requests:
        rate = failures.errors / failures.requests
    if rate is not None:
        types = by_type_phrase(failures)
        parts.append(
            f"error rate {percent(rate)}" + (f" (by error type: {types})" if types else "")
        )
    if (p95 := signals.get("latency_p95_s")) is not None:
        parts.append(f"p95 latency {_seconds(p95)}")
    elif (mean := signals.get("latency_mean_s")) is not None:
        parts.append(f"mean latency {_seconds(mean)}")
    if (accuracy := signals.get("accuracy")) is not None:
        parts.append(f"accuracy {percent(accuracy)}")
    return ", ".join(parts)


def drift_details(findings: DriftFindings) -> dict[str, Any]:
    return {
        "judged_at": findings.judged_at.isoformat() if findings.judged_at else None,
        "data_drift": findings.data_drift,
        "share": findings.share,
        "features": {c: since.isoformat() for c, since in sorted(findings.features.items())},
        "prediction_drift": findings.prediction_drift,
        "label_drift": findings.label_drift,
        "quality_findings": findings.quality_findings,
        "detail": findings.detail,
    }


def drift_phrase(findings: DriftFindings) -> str:
    """``data drift in 9 features (a, b, c, …)``, ``2 data-quality findings`` or ``no drift``."""
    if findings.judged_at is None:
        return "drift not judged yet"
    parts = []
    if findings.features:
        names = sorted(findings.features, key=lambda c: (findings.features[c], c))
        shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
        count = len(names)
        parts.append(f"data drift in {count} feature{'s' if count != 1 else ''} ({shown})")
    if findings.prediction_drift:
        parts.append("prediction drift")
    if findings.label_drift:
        parts.append("label drift")
    if findings.quality_findings:
        n = findings.quality_findings
        parts.append(f"{n} data-quality finding{'s' if n != 1 else ''}")
    return ", ".join(parts) or "no drift"


def drift_section(findings: DriftFindings | None, *, model: str) -> Section:
    if findings is None:
        return Section(
            summary="drift not monitored",
            problems=[f"drift: not monitored for {model} (no models[].drift in the config)"],
        )
    return Section(drift_details(findings), drift_phrase(findings))


def logs_section(evidence: model_logs.LogEvidence | None, *, model: str) -> Section:
    if evidence is None:
        return Section(
            summary="logs not configured",
            problems=[
                f"logs: no log source configured for {model} (models[].logs: file, command or url)"
            ],
        )
    problem = evidence.read.problem
    return Section(evidence.details(), evidence.summary(), [f"logs: {problem}"] if problem else [])


@dataclass
class Investigator:
    """Starts an investigation job when an incident about a model opens, and runs it."""

    config: FirewatchConfig
    db: Database
    writer: Writer
    clock: Clock
    client: httpx.AsyncClient
    sources: EvidenceSources

    types = frozenset({OPENED_EVENT})

    def on_event(self, session: Session, event: Event) -> None:
        """Consumer handler: an open incident about a model gets one investigation job."""
        incident = session.get(IncidentRow, event.incident_id) if event.incident_id else None
        if incident is None or not incident.model or not Status(incident.status).is_open:
            return
        now = self.clock.now()
        job_table.enqueue_job(
            session,
            kind=INVESTIGATE_JOB,
            key=f"investigate:{incident.id}",
            payload={"incident_id": incident.id},
            due_at=now,
            now=now,
            max_attempts=3,
            incident_id=incident.id,
        )

    async def investigate(self, job: Job) -> None:
        """Job handler: gather the evidence and record it on the incident (once)."""
        incident_id = int(job.payload["incident_id"])
        subject = await self.db.read(lambda s: _subject(s, incident_id))
        if subject is None:
            return
        model, opened_at = subject
        found = await self.gather(model=model, opened_at=opened_at)
        at = self.clock.now()
        await self.writer.run(lambda s: _record(s, incident_id, found, at))

    def on_dead(self, session: Session, job: Job, error: str) -> None:
        """The job gave up: say so on the timeline rather than leave a silent gap."""
        incident = session.get(IncidentRow, int(job.payload["incident_id"]))
        if incident is not None:
            record(
                session,
                incident,
                kind=TimelineKind.NOTE,
                text=f"Automatic investigation could not run: {error}",
                actor=ACTOR,
                at=self.clock.now(),
            )

    async def gather(self, *, model: str, opened_at: datetime) -> Investigation:
        """Every section for ``model``; one that fails becomes a problem, never an error."""
        drift, signals, errors = self._in_memory(model)  # first: the state closest to the open
        window = self.config.runbooks.recent_deploy_window
        configured = self.config.model(model)
        source = configured.logs if configured is not None else None

        async def deployments() -> Section:
            return await self.db.read(
                lambda s: deployments_section(s, model=model, opened_at=opened_at, window=window)
            )

        async def logs() -> Section:
            evidence = await model_logs.collect_logs(source, client=self.client) if source else None
            return logs_section(evidence, model=model)

        deployed, logged = await asyncio.gather(
            _guarded("deployments", deployments()), _guarded("logs", logs())
        )
        return Investigation(
            {
                "deployments": deployed,
                "drift": drift,
                "signals": signals,
                "error_samples": errors,
                "logs": logged,
            }
        )

    def _in_memory(self, model: str) -> tuple[Section, Section, Section]:
        """Drift, signals (with the error-type breakdown) and failed requests, as detection
        holds them in this process now."""
        try:
            drift = drift_section(self.sources.drift(model), model=model)
        except Exception as exc:
            drift = _failed("drift", exc)
        try:
            failures = self.sources.failures(model)
            missing = [] if failures is not None else [_NO_EVENTS.format(model)]
            errors = Section(failures_details(failures) if failures else None, problems=missing)
        except Exception as exc:
            failures, errors = None, _failed("error samples", exc)
        try:
            values = self.sources.signals(model)
            missing = [] if values else [_NO_SIGNALS.format(model)]
            signals = Section(values, metrics_phrase(values, failures), missing)
        except Exception as exc:
            broken = _failed("signals", exc)
            signals = Section(None, metrics_phrase({}, failures), broken.problems)
        return drift, signals, errors


_NO_SIGNALS = (
    "signals: none measured for {0} yet (no /metrics scrape, health probe or inference events)"
)
_NO_EVENTS = (
    "error samples: {0} has sent no inference events (POST /api/v1/models/{0}/events), "
    "so no failed requests can be shown"
)


def _failed(name: str, exc: Exception) -> Section:
    log.error("investigation: %s could not be gathered", name, exc_info=exc)
    return Section(problems=[f"{name}: could not be gathered ({type(exc).__name__}: {exc})"])


async def _guarded(name: str, work: Awaitable[Section]) -> Section:
    try:
        return await work
    except Exception as exc:  # one broken source must not lose the others
        return _failed(name, exc)


def _subject(session: Session, incident_id: int) -> tuple[str, datetime] | None:
    incident = session.get(IncidentRow, incident_id)
    if incident is None or not incident.model:
        return None
    return incident.model, incident.opened_at


def _record(session: Session, incident_id: int, found: Investigation, at: datetime) -> None:
    incident = session.get(IncidentRow, incident_id)
    if incident is None:
        return
    done = session.scalar(
        select(TimelineEntryRow.id)
        .where(
            TimelineEntryRow.incident_id == incident_id,
            TimelineEntryRow.kind == TimelineKind.INVESTIGATION.value,
        )
        .limit(1)
    )
    if done is not None:  # a job run again after a crash: the first record stands
        return
    record(
        session,
        incident,
        kind=TimelineKind.INVESTIGATION,
        text=found.text(),
        actor=ACTOR,
        at=at,
        details=found.details(),
    )
