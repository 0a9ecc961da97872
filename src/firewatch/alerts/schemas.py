"""The Alert every source produces, carrying the shared labels: ``model``, ``version`` (when
known), ``alertname``, ``severity`` and ``source``; any other labels pass through.

A plain slotted dataclass rather than a pydantic model: ingest builds tens of thousands a second.
Adapters validate what senders send; ``__post_init__`` enforces the core labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from firewatch.severity import Severity, Signals

CORE_LABELS = ("model", "version", "alertname", "severity", "source")
_CANONICAL = frozenset(s.value for s in Severity)


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"
    ACKNOWLEDGED = "acknowledged"  # PagerDuty's acknowledge action: acknowledges the incident


@dataclass(slots=True)
class Alert:
    """One alert from any source."""

    labels: dict[str, str]
    starts_at: datetime
    annotations: dict[str, str] = field(default_factory=dict)
    status: AlertStatus = AlertStatus.FIRING
    ends_at: datetime | None = None
    signals: Signals | None = None
    fingerprint: str | None = None  # as computed by the sender (Alertmanager's is the same)
    dedup_key: str | None = None  # PagerDuty: same key while open → same alert

    def __post_init__(self) -> None:
        labels = self.labels
        if not labels.get("alertname") or not labels.get("source"):
            missing = [name for name in ("alertname", "source") if not labels.get(name)]
            raise ValueError(f"alert labels must include {', '.join(missing)}")
        severity = labels.get("severity")
        if severity is not None and severity not in _CANONICAL:  # adapters set it canonical
            labels["severity"] = Severity.parse(severity).value

    @property
    def alertname(self) -> str:
        return self.labels["alertname"]

    @property
    def model(self) -> str | None:
        return self.labels.get("model")

    @property
    def severity(self) -> Severity | None:
        value = self.labels.get("severity")
        return Severity(value) if value else None
