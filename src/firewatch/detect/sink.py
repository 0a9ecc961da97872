"""What detection reports to: the narrow interface between detectors and the rest of Firewatch."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from firewatch.alerts.schemas import Alert


class DetectionSink(Protocol):
    async def alerts(self, alerts: list[Alert]) -> None:
        """Hand alerts (firing or resolved) to alert processing."""

    async def health(self, model: str, healthy: bool, at: datetime) -> None:
        """Tell the registry what the live version's health looked like (called on every
        healthy probe: the sink makes repeats cheap)."""

    async def current_version(self, model: str) -> str | None:
        """The version the registry says is in production, for the alert's ``version`` label."""
