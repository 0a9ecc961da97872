"""Builds the post-mortem Markdown for one incident from its record and the registry's history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlalchemy.orm import Session

from firewatch.duration import format_duration
from firewatch.errors import FirewatchError
from firewatch.incidents import queries as incident_queries
from firewatch.incidents import service as incident_service
from firewatch.incidents.schemas import IncidentOut
from firewatch.registry import service as registry_service
from firewatch.registry.schemas import DeploymentOut
from firewatch.severity import Severity, SeverityPolicy

HISTORY_BEFORE = timedelta(hours=24)


@dataclass(frozen=True)
class Durations:
    first_signal: datetime | None
    to_acknowledge: timedelta | None
    to_mitigate: timedelta | None
    to_resolve: timedelta | None


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("firewatch.postmortem", "templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # Markdown, not HTML  # noqa: S701
    )
    env.filters["utc"] = lambda t: t.strftime("%Y-%m-%d %H:%M:%S UTC") if t else "—"
    env.filters["hms"] = lambda t: t.strftime("%H:%M:%S") if t else "—"
    env.filters["duration"] = lambda d: format_duration(d) if d is not None else "—"
    env.filters["cell"] = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    return env


def durations_of(incident: IncidentOut) -> Durations:
    starts = [datetime.fromisoformat(s["starts_at"]) for s in incident.signals if "starts_at" in s]
    opened = incident.timestamp
    return Durations(
        first_signal=min(starts) if starts else None,
        to_acknowledge=incident.acknowledged_at - opened if incident.acknowledged_at else None,
        to_mitigate=incident.mitigated_at - opened if incident.mitigated_at else None,
        to_resolve=incident.resolved_at - opened if incident.resolved_at else None,
    )


def _deployments(session: Session, incident: IncidentOut, now: datetime) -> list[DeploymentOut]:
    if incident.model is None:
        return []
    try:
        rows = registry_service.history(
            session,
            model=incident.model,
            since=incident.timestamp - HISTORY_BEFORE,
            until=incident.resolved_at or now,
        )
    except FirewatchError:
        return []  # the model is not in the registry: no version history to show
    return list(reversed(rows))


def build_postmortem(
    session: Session, *, ref: str, now: datetime, policy: SeverityPolicy, author: str = "Firewatch"
) -> str:
    """The post-mortem of incident ``ref`` as Markdown."""
    row = incident_service.get_incident(session, ref=ref)
    incident = incident_queries.full_incident(session, incident_id=row.id, now=now)
    severity = Severity(incident.severity)
    level = policy.level(severity)
    deployments = _deployments(session, incident, now)
    actions = [e for e in incident.timeline if e.kind in ("action_succeeded", "action_failed")]
    template = _environment().get_template("postmortem.md.j2")
    return (
        template.render(
            incident=incident,
            severity=severity,
            level=level,
            durations=durations_of(incident),
            deployments=deployments,
            actions=actions,
            author=author,
            generated_at=now,
            required=severity in (Severity.SEV1, Severity.SEV2),
        ).strip()
        + "\n"
    )
