"""Traffic splits: an alias's traffic shared across versions by percent, like KServe's
``canaryTrafficPercent``. The alias keeps pointing at its deployed version (the deploy history
stays true); the split says how its traffic is really served until the next deploy clears it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from firewatch.errors import Conflict, InvalidInput
from firewatch.registry import aliases as registry_aliases
from firewatch.registry import service as registry_service
from firewatch.registry.models import TrafficSplitRow
from firewatch.registry.schemas import TrafficOut, check_weights
from firewatch.store import events as event_log

PRODUCTION = registry_service.PRODUCTION


def get_traffic(session: Session, *, model: str, alias: str = PRODUCTION) -> TrafficOut:
    """How ``alias`` of ``model`` is served: its split, or all traffic on its version."""
    model_row = registry_service.get_model(session, name=model)
    version = registry_aliases.alias_version(session, model_id=model_row.id, alias=alias)
    rows = _rows(session, model_row.id, alias)
    if rows:
        first = rows[0]
        return TrafficOut(
            model=model,
            alias=alias,
            version=version.version if version else None,
            weights={row.version.version: row.weight for row in rows},
            split=True,
            actor=first.actor,
            reason=first.reason,
            updated_at=first.updated_at,
        )
    weights = {version.version: 100} if version else {}
    return TrafficOut(
        model=model,
        alias=alias,
        version=version.version if version else None,
        weights=weights,
        split=False,
    )


def set_traffic(
    session: Session,
    *,
    model: str,
    weights: Mapping[str, int],
    now: datetime,
    actor: str,
    alias: str = PRODUCTION,
    reason: str = "",
) -> TrafficOut:
    """Split ``alias``'s traffic by ``weights`` (version → percent, summing to 100).

    The version the alias serves must be listed (weight 0 drains it). One version at 100 clears
    the split when it is the alias's version; sending all traffic to another version is a
    deploy (Conflict, code ``use_deploy``), so the deploy history says what serves.
    """
    try:
        wanted = check_weights(dict(weights))
    except ValueError as exc:
        raise InvalidInput(str(exc), code="invalid_weights") from None
    model_row = registry_service.get_model(session, name=model)
    versions = {
        v: registry_service.find_version(session, model=model_row, version=v) for v in wanted
    }
    live = registry_service.current_deployment(session, model_id=model_row.id, alias=alias)
    if live is None:
        raise Conflict(
            f"{model} {alias} serves no version yet: deploy one before splitting its traffic",
            code="not_deployed",
        )
    serving = live.version.version
    served = {v: w for v, w in wanted.items() if w > 0}
    if len(served) == 1 and serving not in served:
        only = next(iter(served))
        raise Conflict(
            f"to send all {model} {alias} traffic to {only}, deploy it (`firewatch model deploy "
            f"{model} {only}`) so the deploy history says what serves",
            code="use_deploy",
        )
    if serving not in wanted:
        raise Conflict(
            f"the split must include {serving}, the version {model} {alias} serves (give it "
            "weight 0 to drain it); to replace it, deploy another version",
            code="split_without_live_version",
            details={"live_version": serving},
        )
    old = registry_service.clear_traffic_split(session, model_id=model_row.id, alias=alias)
    if len(served) > 1:
        for version, weight in served.items():
            session.add(
                TrafficSplitRow(
                    model_id=model_row.id,
                    alias=alias,
                    version_id=versions[version].id,
                    weight=weight,
                    actor=actor,
                    reason=reason,
                    updated_at=now,
                )
            )
    session.flush()
    event_log.append_event(
        session,
        type="model.traffic_changed",
        at=now,
        payload={
            "model": model,
            "alias": alias,
            "weights": served if len(served) > 1 else {},
            "previous_weights": old,
            "actor": actor,
            "reason": reason,
        },
    )
    return get_traffic(session, model=model, alias=alias)


def _rows(session: Session, model_id: int, alias: str) -> list[TrafficSplitRow]:
    return list(
        session.scalars(
            select(TrafficSplitRow)
            .where(TrafficSplitRow.model_id == model_id, TrafficSplitRow.alias == alias)
            .options(selectinload(TrafficSplitRow.version))
            .order_by(TrafficSplitRow.weight.desc(), TrafficSplitRow.version_id)
        )
    )
