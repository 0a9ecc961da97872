"""The channel protocol, the notification every channel receives, and text helpers they share."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from firewatch.severity import Severity
from firewatch.store.runner import GiveUp

MessageKind = Literal["opened", "update", "resolved", "acknowledged"]
MESSAGE_KINDS: tuple[MessageKind, ...] = ("opened", "update", "resolved", "acknowledged")
ELLIPSIS = "…"


@dataclass(frozen=True)
class Notification:
    """One message about one incident, for one intent and target, with a stable idempotency id.

    ``text`` is the rendered plain-text message (the seed's templates); channels with a rich
    format (Slack blocks, Adaptive Cards, ADF, HTML) build it from ``incident`` and ``text``.
    ``severity``, ``incident_ref`` and ``summary`` default to what ``incident`` says.
    """

    id: str  # the same on every retry: receivers use it to drop duplicates
    event_type: str
    intent: str
    target: str
    text: str
    incident: dict[str, Any]
    message: MessageKind = "opened"
    headline: str | None = None  # why this message was sent, when it is not the usual one
    severity: str = ""  # SEV1..SEV4
    incident_ref: str = ""  # the display id, INC-YYYY-NNN
    summary: str = field(default="")  # one line: "SEV1 INC-2026-001: iris is down"

    def __post_init__(self) -> None:
        if self.message not in MESSAGE_KINDS:
            raise ValueError(f"unknown message kind {self.message!r}")
        if not self.severity:
            object.__setattr__(self, "severity", str(self.incident.get("severity") or "SEV3"))
        if not self.incident_ref:
            object.__setattr__(self, "incident_ref", str(self.incident.get("id") or self.id))
        if not self.summary:
            object.__setattr__(self, "summary", self._summary())

    @property
    def title(self) -> str:
        return str(self.incident.get("title") or "Incident")

    @property
    def dedup_key(self) -> str:
        """Stable per incident, across messages and retries (PagerDuty's ``dedup_key``)."""
        return f"firewatch-{self.incident_ref}"

    def _summary(self) -> str:
        prefix = {
            "opened": f"{self.severity} {self.incident_ref}",
            "update": f"Update: {self.severity} {self.incident_ref}",
            "acknowledged": f"Acknowledged: {self.severity} {self.incident_ref}",
            "resolved": f"Resolved: {self.incident_ref}",
        }[self.message]
        return f"{prefix}: {self.title}"


class Channel(Protocol):
    name: str

    async def send(self, notification: Notification) -> str:
        """Deliver; return a short description for the timeline (never containing a secret).

        Raise `RetryLater` for failures worth retrying (timeouts, 5xx, 429 with its Retry-After)
        and `GiveUp` for ones that are not (other 4xx, a missing secret).
        """
        ...


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(ELLIPSIS))].rstrip() + ELLIPSIS


def one_line(text: str) -> str:
    return " ".join(text.split())


def require_env(variable: str, what: str) -> str:
    """The value of ``variable``; a delivery whose secret is not set can never succeed."""
    value = os.environ.get(variable, "")
    if not value:
        raise GiveUp(f"environment variable {variable} ({what}) is not set")
    return value


def severity_label(severity: str) -> str:
    """``SEV1 (CRITICAL)``: the level and the seed's name for it."""
    try:
        return f"{severity} ({Severity(severity).seed_name})"
    except ValueError:
        return severity


def model_label(incident: dict[str, Any]) -> str | None:
    """``iris (version 3)``, or None when the incident names no model."""
    model = incident.get("model")
    if not model:
        return None
    version = incident.get("model_version")
    return f"{model} (version {version})" if version else str(model)
