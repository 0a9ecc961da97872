"""The region a model is served from (``models[].endpoints``): the switch record, and the cheap
lookup with which probes and health steps follow the active endpoint after a failover.

The registry keeps the active region (None until the first switch: the primary, the first
configured endpoint); the config keeps the endpoints. A region the config no longer names falls
back to the primary.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from firewatch.config import ModelConfig
from firewatch.errors import Conflict, InvalidInput
from firewatch.registry import service as registry_service
from firewatch.registry.models import RegionSwitchRow, RegisteredModelRow
from firewatch.registry.schemas import NAME_PATTERN, NAME_RULE, RegionSwitchOut
from firewatch.store import events as event_log
from firewatch.store.db import Database

DEFAULT_TTL_S = 5.0


class _Changes:
    """Counts region switches committed in this process, so caches here refresh at once."""

    count = 0


def switched() -> None:
    """Tell this process's `ActiveEndpoints` caches that a switch was just committed."""
    _Changes.count += 1


def active_region(session: Session, *, model: str) -> str | None:
    """The region ``model`` is served from, None for the primary (or an unregistered model)."""
    return session.scalar(
        select(RegisteredModelRow.active_region).where(RegisteredModelRow.name == model)
    )


def switch_region(
    session: Session,
    *,
    model: str,
    to: str,
    regions: Sequence[str],
    now: datetime,
    actor: str,
    reason: str = "",
) -> RegionSwitchRow:
    """Record that ``model``'s traffic now goes to region ``to`` (one of ``regions``, the
    configured endpoints, the first the primary). A model not yet in the registry is added.
    Call `switched` once the transaction has committed."""
    if not regions:
        raise InvalidInput(
            f"model {model!r} has no endpoints configured (models[].endpoints)",
            code="no_endpoints",
        )
    if to not in regions:
        raise InvalidInput(
            f"model {model!r} has no region {to!r} (configured: {', '.join(regions)})",
            code="unknown_region",
            details={"regions": list(regions)},
        )
    row = _model_row(session, model, now)
    current = row.active_region if row.active_region in regions else regions[0]
    if current == to:
        raise Conflict(f"{model} is already served from {to}", code="already_active")
    row.active_region = to
    switch = RegionSwitchRow(
        model_id=row.id,
        from_region=current,
        to_region=to,
        actor=actor,
        reason=reason,
        switched_at=now,
    )
    session.add(switch)
    session.flush()
    event_log.append_event(
        session,
        type="model.failed_over",
        at=now,
        payload={"model": model, "from": current, "to": to, "actor": actor, "reason": reason},
    )
    return switch


def _model_row(session: Session, model: str, now: datetime) -> RegisteredModelRow:
    row = session.scalar(select(RegisteredModelRow).where(RegisteredModelRow.name == model))
    if row is not None:
        return row
    if not NAME_PATTERN.match(model):
        raise InvalidInput(f"invalid model name {model!r}: a model name is {NAME_RULE}")
    row = RegisteredModelRow(name=model, created_at=now)
    session.add(row)
    session.flush()
    return row


def last_switch(session: Session, *, model: str) -> RegionSwitchRow | None:
    """The latest region switch of ``model``."""
    return session.scalar(
        select(RegionSwitchRow)
        .join(RegisteredModelRow, RegisteredModelRow.id == RegionSwitchRow.model_id)
        .where(RegisteredModelRow.name == model)
        .order_by(RegionSwitchRow.switched_at.desc(), RegionSwitchRow.id.desc())
        .limit(1)
    )


def region_history(session: Session, *, model: str, limit: int = 20) -> list[RegionSwitchOut]:
    """Region switches of ``model``, newest first."""
    row = registry_service.get_model(session, name=model)
    rows = session.scalars(
        select(RegionSwitchRow)
        .where(RegionSwitchRow.model_id == row.id)
        .order_by(RegionSwitchRow.switched_at.desc(), RegionSwitchRow.id.desc())
        .limit(limit)
    )
    return [switch_out(model, r) for r in rows]


def switch_out(model: str, row: RegionSwitchRow) -> RegionSwitchOut:
    return RegionSwitchOut(
        model=model,
        from_region=row.from_region,
        to_region=row.to_region,
        actor=row.actor,
        reason=row.reason,
        switched_at=row.switched_at,
    )


async def resolve_probe_url(db: Database, model: ModelConfig) -> str | None:
    """The health URL of the endpoint ``model`` is served from now (one read with endpoints)."""
    return model.probe_url(await _active(db, model))


async def resolve_base_url(db: Database, model: ModelConfig | None) -> str | None:
    """The base URL of the endpoint ``model`` is served from now (one read with endpoints)."""
    return model.base_url(await _active(db, model)) if model is not None else None


async def _active(db: Database, model: ModelConfig | None) -> str | None:
    if model is None or not model.endpoints:
        return None
    name = model.name
    return await db.read(lambda s: active_region(s, model=name))


@dataclass
class _Cached:
    region: str | None
    read_at: float
    changes: int


class ActiveEndpoints:
    """Probe URLs that follow the active region, for the probe loop: the region is read from
    the registry at most every ``ttl_s`` seconds per model (a switch elsewhere, e.g. from the
    CLI, shows within that), and at once after a switch made in this process."""

    def __init__(self, db: Database, *, ttl_s: float = DEFAULT_TTL_S) -> None:
        self._db = db
        self._ttl_s = ttl_s
        self._cache: dict[str, _Cached] = {}

    async def probe_url(self, model: ModelConfig) -> str | None:
        """``model``'s health URL in its active region (its static one without endpoints)."""
        if not model.endpoints:
            return model.probe_url()
        return model.probe_url(await self.region(model.name))

    async def region(self, model: str) -> str | None:
        """The active region of ``model`` (None: the primary), cached."""
        cached = self._cache.get(model)
        now = time.monotonic()  # a cache age, not domain time: the injected clock is not needed
        if cached and cached.changes == _Changes.count and now - cached.read_at < self._ttl_s:
            return cached.region
        changes = _Changes.count
        region = await self._db.read(lambda s: active_region(s, model=model))
        self._cache[model] = _Cached(region, now, changes)
        return region
