"""What detection reports to: the narrow interface between detectors and the rest of Firewatch."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from firewatch.alerts.schemas import Alert


class DetectionSink(Protocol):
    async def alerts(self, alerts: list[Alert]) -> None:
        """Hand alerts (firing or resolved) to alert processing."""

    async def health(
        self, model: str, healthy: bool, at: datetime, version: str | None = None
    ) -> None:
        """Tell the registry what the live version's health looked like (called on every
        healthy probe: the sink makes repeats cheap). ``at`` is when that state was first seen
        (the probe's start, or the first failure of a streak) and ``version`` what the server
        said it serves, if it says: a result that predates the live deployment, or comes from
        another version, is not held against it."""

    async def current_version(self, model: str) -> str | None:
        """The version the registry says is in production, for the alert's ``version`` label."""

    async def served_versions(self, model: str) -> frozenset[str]:
        """The versions the registry sends ``model``'s production traffic to (a split names
        several); empty when the registry does not know the model."""
