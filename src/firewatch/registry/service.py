"""Registry commands and queries: register, deploy, roll back, record health, describe.

The live deployment and "last known good" are judged in `firewatch.registry.periods` (re-exported
here); non-serving aliases such as ``fallback`` live in `firewatch.registry.aliases`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from firewatch.errors import Conflict, InvalidInput, NotFound
from firewatch.registry.models import (
    DeploymentRow,
    ModelAliasRow,
    ModelVersionRow,
    RegisteredModelRow,
    TrafficSplitRow,
)
from firewatch.registry.periods import GoodCandidate as GoodCandidate
from firewatch.registry.periods import current_deployment as current_deployment
from firewatch.registry.periods import good_version_candidates as good_version_candidates
from firewatch.registry.periods import last_known_good as last_known_good
from firewatch.registry.periods import require_last_known_good as require_last_known_good
from firewatch.registry.schemas import (
    DEFAULT_MIN_HEALTHY_TIME,
    NAME_PATTERN,
    NAME_RULE,
    DeploymentOut,
    ModelOut,
    VersionOut,
)
from firewatch.store import events as event_log

PRODUCTION = "production"
EVENT_TYPES = {"rollback": "model.rolled_back", "fallback": "model.switched_to_fallback"}


def get_model(session: Session, *, name: str) -> RegisteredModelRow:
    row = session.scalar(select(RegisteredModelRow).where(RegisteredModelRow.name == name))
    if row is None:
        known = list(session.scalars(select(RegisteredModelRow.name).order_by("name").limit(20)))
        raise NotFound(
            f"no model named {name!r} in the registry",
            code="unknown_model",
            details={"known_models": known},
        )
    return row


def find_version(session: Session, *, model: RegisteredModelRow, version: str) -> ModelVersionRow:
    """``version`` of ``model``; NotFound (code ``unknown_version``) naming the known ones."""
    return _version(session, model, version)


def _version(session: Session, model: RegisteredModelRow, version: str) -> ModelVersionRow:
    row = session.scalar(
        select(ModelVersionRow).where(
            ModelVersionRow.model_id == model.id, ModelVersionRow.version == version
        )
    )
    if row is None:
        known = [v.version for v in model.versions]
        raise NotFound(
            f"model {model.name!r} has no version {version!r}",
            code="unknown_version",
            details={"known_versions": known},
        )
    return row


def register_version(
    session: Session,
    *,
    model: str,
    version: str,
    now: datetime,
    metadata: dict[str, Any] | None = None,
    description: str = "",
) -> ModelVersionRow:
    """Add ``version`` to ``model`` (creating the model on its first version)."""
    if not NAME_PATTERN.match(model):
        raise InvalidInput(f"invalid model name {model!r}: a model name is {NAME_RULE}")
    row = session.scalar(select(RegisteredModelRow).where(RegisteredModelRow.name == model))
    if row is None:
        row = RegisteredModelRow(name=model, created_at=now)
        session.add(row)
        session.flush()
    exists = session.scalar(
        select(ModelVersionRow).where(
            ModelVersionRow.model_id == row.id, ModelVersionRow.version == version
        )
    )
    if exists is not None:
        raise Conflict(f"model {model!r} already has a version {version!r}", code="version_exists")
    created = ModelVersionRow(
        model_id=row.id,
        version=version,
        description=description,
        metadata_=dict(metadata or {}),
        created_at=now,
    )
    session.add(created)
    session.flush()
    return created


def live_deployment(
    session: Session, *, model: str, alias: str = PRODUCTION
) -> DeploymentRow | None:
    """The deployment ``alias`` of ``model`` points at now; None for an unknown model."""
    model_id = session.scalar(select(RegisteredModelRow.id).where(RegisteredModelRow.name == model))
    return current_deployment(session, model_id=model_id, alias=alias) if model_id else None


def deploy(
    session: Session,
    *,
    model: str,
    version: str,
    now: datetime,
    actor: str,
    alias: str = PRODUCTION,
    reason: str = "",
    kind: str = "deploy",
) -> DeploymentRow:
    """Point ``alias`` at ``version``, ending the previous deployment and any traffic split of
    the alias (all traffic goes to ``version``), and log it."""
    model_row = get_model(session, name=model)
    target = _version(session, model_row, version)
    live = current_deployment(session, model_id=model_row.id, alias=alias)
    if live is not None and live.version_id == target.id:
        raise Conflict(f"{model} {alias} is already serving {version}", code="already_deployed")
    if live is not None:
        live.ended_at = now
    deployment = DeploymentRow(
        model_id=model_row.id,
        version_id=target.id,
        previous_version_id=live.version_id if live else None,
        alias=alias,
        kind=kind,
        actor=actor,
        reason=reason,
        deployed_at=now,
    )
    session.add(deployment)
    cleared = clear_traffic_split(session, model_id=model_row.id, alias=alias)
    alias_row = session.get(ModelAliasRow, (model_row.id, alias))
    if alias_row is None:
        session.add(
            ModelAliasRow(model_id=model_row.id, alias=alias, version_id=target.id, updated_at=now)
        )
    else:
        alias_row.version_id = target.id
        alias_row.updated_at = now
    session.flush()
    previous = live.version.version if live else None
    event_log.append_event(
        session,
        type=EVENT_TYPES.get(kind, "model.deployed"),
        at=now,
        payload={
            "model": model,
            "alias": alias,
            "version": version,
            "previous_version": previous,
            "kind": kind,
            "actor": actor,
            "reason": reason,
            "cleared_traffic_split": cleared,
        },
    )
    return deployment


def clear_traffic_split(session: Session, *, model_id: int, alias: str) -> dict[str, int]:
    """Remove the traffic split of ``alias`` (its version takes all traffic); the old weights."""
    rows = session.scalars(
        select(TrafficSplitRow)
        .where(TrafficSplitRow.model_id == model_id, TrafficSplitRow.alias == alias)
        .options(selectinload(TrafficSplitRow.version))
    ).all()
    if not rows:
        return {}
    old = {row.version.version: row.weight for row in rows}
    session.execute(
        delete(TrafficSplitRow).where(
            TrafficSplitRow.model_id == model_id, TrafficSplitRow.alias == alias
        )
    )
    return old


def traffic_splits(session: Session, *, model_id: int) -> dict[str, dict[str, int]]:
    """Alias → {version: percent} for every alias of the model whose traffic is split."""
    rows = session.scalars(
        select(TrafficSplitRow)
        .where(TrafficSplitRow.model_id == model_id)
        .options(selectinload(TrafficSplitRow.version))
        .order_by(TrafficSplitRow.alias, TrafficSplitRow.weight.desc(), TrafficSplitRow.version_id)
    )
    splits: dict[str, dict[str, int]] = {}
    for row in rows:
        splits.setdefault(row.alias, {})[row.version.version] = row.weight
    return splits


def rollback(
    session: Session,
    *,
    model: str,
    now: datetime,
    actor: str,
    to: str | None = None,
    alias: str = PRODUCTION,
    reason: str = "",
    min_healthy_time: timedelta = DEFAULT_MIN_HEALTHY_TIME,
) -> DeploymentRow:
    """Deploy ``to`` (default: the last known good version, see `require_last_known_good`) as a
    rollback."""
    model_row = get_model(session, name=model)
    if to is None:
        to = require_last_known_good(
            session, model=model_row, alias=alias, min_healthy_time=min_healthy_time, now=now
        ).version
    return deploy(
        session,
        model=model,
        version=to,
        now=now,
        actor=actor,
        alias=alias,
        reason=reason,
        kind="rollback",
    )


def record_health(
    session: Session,
    *,
    model: str,
    healthy: bool,
    at: datetime,
    version: str | None = None,
    alias: str = PRODUCTION,
) -> bool:
    """Note on the live deployment that it was seen healthy or failing; True if that changed it.

    ``at`` is when that state began: a probe streak that started before the live deployment
    (the old version still answering, or failing, while the server switches) says nothing
    about it, nor does a server that reports serving another of the model's registered
    versions (a ``version`` the registry does not know, such as a build tag, is no evidence)."""
    model_row = session.scalar(select(RegisteredModelRow).where(RegisteredModelRow.name == model))
    if model_row is None:
        return False
    live = current_deployment(session, model_id=model_row.id, alias=alias)
    if live is None or live.deployed_at > at:
        return False
    if version is not None and version != live.version.version:
        other = select(ModelVersionRow.id).where(
            ModelVersionRow.model_id == model_row.id, ModelVersionRow.version == version
        )
        if session.scalar(other) is not None:
            return False
    if healthy and live.first_healthy_at is None and live.failed_at is None:
        live.first_healthy_at = at
        return True
    if not healthy and live.failed_at is None:
        live.failed_at = at
        return True
    return False


def deployment_out(model: str, row: DeploymentRow) -> DeploymentOut:
    return DeploymentOut(
        model=model,
        version=row.version.version,
        previous_version=row.previous_version.version if row.previous_version else None,
        alias=row.alias,
        kind=row.kind,
        actor=row.actor,
        reason=row.reason,
        deployed_at=row.deployed_at,
        ended_at=row.ended_at,
        first_healthy_at=row.first_healthy_at,
        failed_at=row.failed_at,
    )


def model_out(
    session: Session,
    row: RegisteredModelRow,
    *,
    min_healthy_time: timedelta = DEFAULT_MIN_HEALTHY_TIME,
    now: datetime | None = None,
) -> ModelOut:
    aliases = session.scalars(
        select(ModelAliasRow)
        .where(ModelAliasRow.model_id == row.id)
        .options(selectinload(ModelAliasRow.version))
    )
    live = current_deployment(session, model_id=row.id)
    good = last_known_good(session, model_id=row.id, min_healthy_time=min_healthy_time, now=now)
    return ModelOut(
        name=row.name,
        description=row.description,
        created_at=row.created_at,
        aliases={a.alias: a.version.version for a in aliases},
        versions=[
            VersionOut(
                version=v.version,
                description=v.description,
                metadata=dict(v.metadata_),
                created_at=v.created_at,
            )
            for v in row.versions
        ],
        production=deployment_out(row.name, live) if live else None,
        last_known_good=good.version if good else None,
        min_healthy_time_s=min_healthy_time.total_seconds(),
        traffic=traffic_splits(session, model_id=row.id),
        active_region=row.active_region,
    )


def describe_model(
    session: Session,
    *,
    name: str,
    min_healthy_time: timedelta = DEFAULT_MIN_HEALTHY_TIME,
    now: datetime | None = None,
) -> ModelOut:
    row = get_model(session, name=name)
    return model_out(session, row, min_healthy_time=min_healthy_time, now=now)


def list_models(
    session: Session,
    *,
    min_healthy_times: Mapping[str, timedelta] | None = None,
    now: datetime | None = None,
) -> list[ModelOut]:
    """Every model; ``min_healthy_times`` by model name (others: the default)."""
    times = min_healthy_times or {}
    rows = session.scalars(select(RegisteredModelRow).order_by(RegisteredModelRow.name))
    return [
        model_out(
            session,
            row,
            min_healthy_time=times.get(row.name, DEFAULT_MIN_HEALTHY_TIME),
            now=now,
        )
        for row in rows
    ]


def history(
    session: Session,
    *,
    model: str,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
) -> list[DeploymentOut]:
    """Deployments of ``model``, newest first, optionally deployed within [since, until]."""
    row = get_model(session, name=model)
    query = select(DeploymentRow).where(DeploymentRow.model_id == row.id)
    if since is not None:
        query = query.where(DeploymentRow.deployed_at >= since)
    if until is not None:
        query = query.where(DeploymentRow.deployed_at <= until)
    rows = session.scalars(
        query.order_by(DeploymentRow.deployed_at.desc(), DeploymentRow.id.desc()).limit(limit)
    )
    return [deployment_out(model, d) for d in rows]
