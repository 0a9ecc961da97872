"""Which notifications an incident event causes: the seed's `notify_incident` policy as data.

SEV1: page on-call + chat #critical-incidents + email the team; SEV2: chat #ml-incidents + email
the lead; SEV3/SEV4: a ticket. Each intent is carried by the channels the config names for it.

Pages are the escalation engine's (`firewatch.notify.escalation`), never routing's: routing
sends the chat, email and ticket messages, and tells the page channels when an incident that
escalates was acknowledged or resolved (PagerDuty's acknowledge / resolve).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from firewatch.config import Intent, NotifyConfig
from firewatch.severity import Severity
from firewatch.store.events import Event


@dataclass(frozen=True)
class Delivery:
    """One notification to send: which message, for what intent and target, through which channel."""

    message: str  # opened | update | resolved
    intent: Intent
    target: str
    channel: str
    headline: str | None = None

    def key(self, event_id: int) -> str:
        return f"fw-{event_id}-{self.intent.value}-{self.channel}-{self.target}"


UNVERIFIED_HEADLINE = "⚠️ UNVERIFIED: Firewatch could not confirm this alert; check before acting."

NOTIFYING_EVENTS = frozenset(
    {
        "incident.opened",
        "incident.verified",
        "incident.unverified",
        "incident.severity_changed",
        "incident.acknowledged",
        "incident.status_update",
        "incident.mitigated",
        "incident.resolved",
        "incident.action_proposed",
    }
)


def _routes(
    config: NotifyConfig, severity: Severity, message: str, headline: str | None
) -> list[Delivery]:
    return [
        Delivery(message, route.intent, route.target, channel, headline)
        for route in config.routes.get(severity, [])
        if route.intent is not Intent.PAGE
        for channel in config.channels_for.get(route.intent, [])
    ]


def _pagers(config: NotifyConfig, message: str, headline: str | None) -> list[Delivery]:
    return [
        Delivery(message, Intent.PAGE, "on-call", channel, headline)
        for channel in config.channels_for.get(Intent.PAGE, [])
    ]


def routing_labels(incident: dict[str, Any]) -> dict[str, str]:
    """What routing overrides match on: the incident's labels and its model."""
    labels = {str(k): str(v) for k, v in (incident.get("labels") or {}).items()}
    if incident.get("model"):
        labels["model"] = str(incident["model"])
    return labels


def deliveries_for(
    event: Event, config: NotifyConfig, escalates: frozenset[Severity] = frozenset()
) -> list[Delivery]:
    """The notifications ``event`` causes under ``config`` (empty for events nobody hears of);
    ``escalates``: the severities that have an escalation policy (their pages hear of the
    acknowledgement and the resolution)."""
    payload = event.payload
    config = config.for_labels(routing_labels(payload))
    severity = Severity(payload["severity"])
    details = payload.get("details", {})
    if event.type == "incident.opened":
        if details.get("verification") == "pending":  # paged once checked (verified/unverified)
            return []
        return _routes(config, severity, "opened", None)
    if event.type == "incident.verified" and details.get("held_page"):
        return _routes(config, severity, "opened", None)  # what confirmed it is under Action
    if event.type == "incident.unverified" and details.get("held_page"):
        headline = UNVERIFIED_HEADLINE
        return _routes(config, severity, "opened", headline)
    if event.type == "incident.severity_changed":
        if details.get("direction") != "raised":
            return []
        return _routes(config, severity, "opened", payload["text"])
    if event.type == "incident.acknowledged":
        if severity not in escalates:
            return []
        return _pagers(config, "acknowledged", payload["text"])
    if event.type == "incident.status_update":
        return _routes(config, severity, "update", "Status update: " + payload["text"])
    if event.type == "incident.action_proposed":  # the on-call person decides: tell them
        headline = "Needs your approval: " + payload["text"]
        pages = _pagers(config, "update", headline) if severity in escalates else []
        return _routes(config, severity, "update", headline) + pages
    if event.type == "incident.mitigated":
        return _routes(config, severity, "update", "Mitigated: " + payload["text"])
    if event.type == "incident.resolved":
        pages = _pagers(config, "resolved", None) if severity in escalates else []
        return _routes(config, severity, "resolved", None) + pages
    return []
