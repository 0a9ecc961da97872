"""Switching production to the model's fallback version (the registry alias ``fallback``: a
simple, robust version kept for bad days), on behalf of an incident, idempotently."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from firewatch.errors import Conflict
from firewatch.mitigate.rollback import retire_live
from firewatch.registry import aliases as registry_aliases
from firewatch.registry import service as registry_service

FALLBACK = registry_aliases.FALLBACK
KIND = "fallback"


@dataclass(frozen=True)
class FallbackPlan:
    model: str
    from_version: str
    to_version: str
    reason: str
    already_done: bool


def plan_fallback(session: Session, *, model: str, incident: str) -> FallbackPlan:
    """What switching to the fallback would do, changing nothing.

    Conflicts: no ``fallback`` alias (code ``no_fallback``), nothing in production
    (``not_deployed``), production already on the fallback version (``already_on_fallback``).
    """
    model_row = registry_service.get_model(session, name=model)
    reason = f"fallback for {incident}"
    live = registry_service.current_deployment(session, model_id=model_row.id)
    if live is None:
        raise Conflict(f"{model} has no production deployment to replace", code="not_deployed")
    if live.kind == KIND and live.reason == reason:
        previous = live.previous_version.version if live.previous_version else "nothing"
        return FallbackPlan(model, previous, live.version.version, reason, already_done=True)
    fallback = registry_aliases.alias_version(session, model_id=model_row.id, alias=FALLBACK)
    if fallback is None:
        raise Conflict(
            f"{model} has no fallback version: name one with `firewatch model alias set {model} "
            "fallback VERSION` (a simple, robust version such as a baseline)",
            code="no_fallback",
        )
    if fallback.id == live.version_id:
        raise Conflict(
            f"{model} production already serves the fallback version {fallback.version}: "
            "switching changes nothing",
            code="already_on_fallback",
        )
    return FallbackPlan(model, live.version.version, fallback.version, reason, already_done=False)


def switch_to_fallback(
    session: Session, *, model: str, incident: str, actor: str, now: datetime
) -> FallbackPlan:
    """Deploy the fallback version to production (kind ``fallback``); a repeat for the same
    incident is a no-op (``already_done``)."""
    plan = plan_fallback(session, model=model, incident=incident)
    if not plan.already_done:
        retire_live(session, model=model, now=now)
        registry_service.deploy(
            session,
            model=model,
            version=plan.to_version,
            now=now,
            actor=actor,
            reason=plan.reason,
            kind=KIND,
        )
    return plan
