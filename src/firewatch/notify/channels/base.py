"""The channel protocol and the notification every channel receives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Notification:
    """One message about one incident, for one intent and target, with a stable idempotency id."""

    id: str  # the same on every retry: receivers use it to drop duplicates
    event_type: str
    intent: str
    target: str
    text: str
    incident: dict[str, Any]


class Channel(Protocol):
    name: str

    async def send(self, notification: Notification) -> str:
        """Deliver; return a short description for the timeline.

        Raise `RetryLater` for failures worth retrying (timeouts, 5xx, 429 with its Retry-After)
        and `GiveUp` for ones that are not (other 4xx).
        """
