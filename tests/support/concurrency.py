"""Work run in other OS processes by the concurrency tests (importable by spawned children)."""

from __future__ import annotations

from firewatch.clock import SystemClock
from firewatch.incidents import service as incident_service
from firewatch.severity import DEFAULT_POLICY, Severity
from firewatch.store.db import Database


def declare_many(url: str, count: int, tag: str) -> list[str]:
    """Declare ``count`` incidents, one transaction each, as a CLI would; return their ids."""
    db = Database(url)
    clock = SystemClock()
    ids = []
    try:
        for i in range(count):
            with db.write_session() as session:
                row = incident_service.open_incident(
                    session,
                    title=f"{tag}-{i}",
                    severity=Severity.SEV3,
                    now=clock.now(),
                    policy=DEFAULT_POLICY,
                    actor=incident_service.Actor(tag),
                )
                ids.append(row.display_id)
    finally:
        db.dispose()
    return ids
