"""Renders the seed's message templates (Jinja2, in ``templates/``) from an incident record."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined

from firewatch.duration import format_duration
from firewatch.incidents.schemas import IncidentOut
from firewatch.severity import Severity, SeverityPolicy

STATUS_UPDATE_EVERY = timedelta(minutes=15)

MESSAGES = {
    "opened": "incident_notification.txt.j2",
    "update": "incident_update.txt.j2",
    "acknowledged": "incident_update.txt.j2",
    "resolved": "resolution_notification.txt.j2",
}


def _make(loader: BaseLoader) -> Environment:
    env = Environment(
        loader=loader,
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # plain-text messages, never HTML  # noqa: S701
    )
    env.filters["utc"] = lambda t: t.strftime("%Y-%m-%d %H:%M UTC") if t else "—"
    env.filters["duration"] = format_duration
    return env


@cache
def _environment() -> Environment:
    return _make(PackageLoader("firewatch.comms", "templates"))


@cache
def _file_environment(directory: Path) -> Environment:
    """For a channel's own template files (``templates:`` in its config)."""
    return _make(FileSystemLoader(directory))


ACTION_KINDS = frozenset(
    {
        "action_succeeded",
        "action_failed",
        "verified",
        "unverified",
        "escalated",
        "mitigated",
        "check",
    }
)
"""The timeline entries a message lists as what was already done."""


def _actions(incident: IncidentOut) -> list[str]:
    return [entry.event for entry in incident.timeline if entry.kind in ACTION_KINDS]


def message_context(
    incident: IncidentOut, *, policy: SeverityPolicy, now: datetime, headline: str | None = None
) -> dict[str, Any]:
    severity = Severity(incident.severity)
    level = policy.level(severity)
    end = incident.resolved_at or now
    impact = [r for s in incident.signals for r in s.get("reasons", [])]
    return {
        "incident": incident,
        "severity": severity,
        "seed_name": level.name,
        "headline": headline,
        "impact": impact or [incident.description.splitlines()[0] if incident.description else ""],
        "actions": _actions(incident),
        "estimated_resolution": incident.timestamp + level.resolution_time,
        "resolution_target": level.resolution_time,
        "duration": end - incident.timestamp,
        "next_update": STATUS_UPDATE_EVERY,
        "postmortem_required": severity in (Severity.SEV1, Severity.SEV2),
    }


def render_message(
    kind: str,
    incident: IncidentOut,
    *,
    policy: SeverityPolicy,
    now: datetime,
    headline: str | None = None,
    template_file: Path | None = None,
) -> str:
    """``kind`` is ``opened``, ``update``, ``acknowledged`` or ``resolved``; ``template_file``
    replaces the seed's template (a channel's ``templates``)."""
    if template_file is not None:
        template = _file_environment(template_file.parent).get_template(template_file.name)
    else:
        template = _environment().get_template(MESSAGES[kind])
    context = message_context(incident, policy=policy, now=now, headline=headline)
    return template.render(**context).strip() + "\n"
