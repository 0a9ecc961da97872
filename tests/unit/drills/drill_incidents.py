"""Drill incidents as the API returns them, for the drill tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

FAULT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _at(seconds: float) -> str:
    return (FAULT + timedelta(seconds=seconds)).isoformat()


def incident(
    entries: list[tuple[float, str]],
    *,
    runbook: str = "model-unavailable",
    status: str = "resolved",
    drill: str | None = "model-down",
    response_breached: bool = False,
) -> dict[str, Any]:
    """An incident as the API returns it, opened at its ``detected`` entry."""
    timeline = [
        {
            "time": _at(t),
            "kind": kind,
            "event": kind,
            "actor": "firewatch",
            "details": {"runbook": runbook} if kind == "runbook_started" else {},
        }
        for t, kind in entries
    ]
    times = {kind: t for t, kind in reversed(entries)}
    return {
        "id": "INC-2026-007",
        "timestamp": _at(times["detected"]),
        "severity": "SEV1",
        "status": status,
        "runbook": runbook,
        "labels": {"drill": drill} if drill else {},
        "acknowledged_at": _at(times["acknowledged"]) if "acknowledged" in times else None,
        "mitigated_at": _at(times["mitigated"]) if "mitigated" in times else None,
        "resolved_at": _at(times["resolved"]) if "resolved" in times else None,
        "sla": {
            "response_due_at": _at(times["detected"] + 300),
            "resolution_due_at": _at(times["detected"] + 1800),
            "response_breached": response_breached,
            "resolution_breached": False,
            "breached": response_breached,
        },
        "timeline": timeline,
    }


GOOD = [
    (2, "detected"),
    (2.1, "runbook_started"),
    (2.3, "notified"),
    (2.5, "verified"),
    (2.8, "acknowledged"),
    (3, "action_started"),
    (3.2, "action_succeeded"),
    (9, "mitigated"),
    (20, "resolved"),
]
