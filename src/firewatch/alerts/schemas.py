"""The Alert every source produces: the shared labels (model, version, alertname, severity, source)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from firewatch.severity import Severity, Signals

CORE_LABELS = ("model", "version", "alertname", "severity", "source")


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Alert(BaseModel):
    """One alert from any source. ``labels`` carry the core labels; others pass through."""

    model_config = ConfigDict(extra="forbid")

    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    status: AlertStatus = AlertStatus.FIRING
    starts_at: datetime
    ends_at: datetime | None = None
    signals: Signals = Field(default_factory=Signals, description="What was observed, if known.")

    @model_validator(mode="after")
    def _core_labels(self) -> Alert:
        missing = [name for name in ("alertname", "source") if not self.labels.get(name)]
        if missing:
            raise ValueError(f"alert labels must include {', '.join(missing)}")
        if "severity" in self.labels:
            self.labels["severity"] = Severity.parse(self.labels["severity"]).value
        return self

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
