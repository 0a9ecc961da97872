"""Rolling a model back to its last known good version, on behalf of an incident, idempotently."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from firewatch.registry import service as registry_service
from firewatch.registry.schemas import DEFAULT_MIN_HEALTHY_TIME


@dataclass(frozen=True)
class RollbackOutcome:
    model: str
    from_version: str | None
    to_version: str
    already_done: bool


def retire_live(session: Session, *, model: str, now: datetime) -> None:
    """An incident's mitigation replaces the live version: mark it failed, so it is never a
    "last known good" version, however long its health checks passed (a slow or inaccurate
    build answers /health just fine). Rollback, fallback and a full reroute all do this."""
    registry_service.record_health(session, model=model, healthy=False, at=now)


def rollback_to_last_good(
    session: Session,
    *,
    model: str,
    incident: str,
    actor: str,
    now: datetime,
    min_healthy_time: timedelta = DEFAULT_MIN_HEALTHY_TIME,
) -> RollbackOutcome:
    """Deploy the last known good version; a repeat for the same incident is a no-op. The
    version rolled back from is marked failed, so it is never a rollback target itself.

    Raises `Conflict` (code ``no_good_version``) when no earlier version served healthily for
    ``min_healthy_time``, naming each version considered and why it was rejected.
    """
    model_row = registry_service.get_model(session, name=model)
    live = registry_service.current_deployment(session, model_id=model_row.id)
    reason = f"rollback for {incident}"
    if live is not None and live.kind == "rollback" and live.reason == reason:
        previous = live.previous_version.version if live.previous_version else None
        return RollbackOutcome(model, previous, live.version.version, already_done=True)
    retire_live(session, model=model, now=now)
    deployment = registry_service.rollback(
        session,
        model=model,
        now=now,
        actor=actor,
        reason=reason,
        min_healthy_time=min_healthy_time,
    )
    previous = deployment.previous_version.version if deployment.previous_version else None
    return RollbackOutcome(model, previous, deployment.version.version, already_done=False)
