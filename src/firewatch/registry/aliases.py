"""Aliases that do not serve traffic themselves (such as ``fallback``), set and removed by hand.

An alias with deployments (production...) moves only by deploy or rollback, so its deploy
history stays true.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from firewatch.errors import Conflict, InvalidInput, NotFound
from firewatch.registry import service as registry_service
from firewatch.registry.models import ModelAliasRow, ModelVersionRow
from firewatch.registry.schemas import NAME_PATTERN, NAME_RULE
from firewatch.store import events as event_log

FALLBACK = "fallback"


def set_alias(
    session: Session, *, model: str, alias: str, version: str, now: datetime, actor: str
) -> ModelAliasRow:
    """Point a non-serving alias (such as ``fallback``) at ``version``.

    An alias with deployments (production...) moves only by deploy or rollback, so its deploy
    history stays true: that is a Conflict (code ``served_alias``).
    """
    if not NAME_PATTERN.match(alias) or len(alias) > 64:
        raise InvalidInput(f"invalid alias {alias!r}: an alias is {NAME_RULE} (at most 64)")
    model_row = registry_service.get_model(session, name=model)
    target = registry_service.find_version(session, model=model_row, version=version)
    if registry_service.current_deployment(session, model_id=model_row.id, alias=alias):
        raise Conflict(
            f"{model} {alias} is served: move it with `firewatch model deploy {model} {version} "
            f"--alias {alias}` (or rollback) so the deploy history records it",
            code="served_alias",
        )
    row = session.get(ModelAliasRow, (model_row.id, alias))
    previous = row.version.version if row is not None else None
    if row is None:
        row = ModelAliasRow(
            model_id=model_row.id, alias=alias, version_id=target.id, updated_at=now
        )
        session.add(row)
    else:
        row.version_id = target.id
        row.updated_at = now
    session.flush()
    event_log.append_event(
        session,
        type="model.alias_set",
        at=now,
        payload={
            "model": model,
            "alias": alias,
            "version": version,
            "previous_version": previous,
            "actor": actor,
        },
    )
    return row


def remove_alias(session: Session, *, model: str, alias: str, now: datetime, actor: str) -> str:
    """Delete a non-serving alias; returns the version it pointed to."""
    model_row = registry_service.get_model(session, name=model)
    row = session.get(ModelAliasRow, (model_row.id, alias))
    if row is None:
        raise NotFound(f"model {model!r} has no alias {alias!r}", code="unknown_alias")
    if registry_service.current_deployment(session, model_id=model_row.id, alias=alias):
        raise Conflict(
            f"{model} {alias} is served and cannot be removed; deploy another version instead",
            code="served_alias",
        )
    version = row.version.version
    session.delete(row)
    session.flush()
    event_log.append_event(
        session,
        type="model.alias_removed",
        at=now,
        payload={"model": model, "alias": alias, "version": version, "actor": actor},
    )
    return version


def alias_version(session: Session, *, model_id: int, alias: str) -> ModelVersionRow | None:
    """The version ``alias`` points to, or None."""
    row = session.get(ModelAliasRow, (model_id, alias))
    return row.version if row is not None else None
