"""Deployment periods: the one live on an alias now, and which earlier version was "last known
good" — the most recently deployed version, other than the live one, whose latest period on the
alias was seen healthy by a probe, never failed, and stayed healthy at least the minimum
healthy time (from its first healthy probe until it was replaced). A version that failed the
last time it served is skipped even if it was fine before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from firewatch.duration import format_duration
from firewatch.errors import Conflict
from firewatch.registry.models import DeploymentRow, ModelVersionRow, RegisteredModelRow
from firewatch.registry.schemas import DEFAULT_MIN_HEALTHY_TIME

PRODUCTION = "production"


def current_deployment(
    session: Session, *, model_id: int, alias: str = PRODUCTION
) -> DeploymentRow | None:
    return session.scalar(
        select(DeploymentRow)
        .where(
            DeploymentRow.model_id == model_id,
            DeploymentRow.alias == alias,
            DeploymentRow.ended_at.is_(None),
        )
        .order_by(DeploymentRow.id.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class GoodCandidate:
    """A version considered for "last known good", newest first, with the verdict and why."""

    version: str
    good: bool
    reason: str
    live: bool = False


def good_version_candidates(
    session: Session,
    *,
    model_id: int,
    alias: str = PRODUCTION,
    min_healthy_time: timedelta = DEFAULT_MIN_HEALTHY_TIME,
    now: datetime | None = None,
) -> list[GoodCandidate]:
    """Every version that served ``alias``, judged by its latest period (the live one first)."""
    live = current_deployment(session, model_id=model_id, alias=alias)
    seen: set[int] = set()
    candidates: list[GoodCandidate] = []
    if live is not None:
        seen.add(live.version_id)
        candidates.append(
            GoodCandidate(live.version.version, False, f"{live.version.version} is live now", True)
        )
    periods = session.scalars(
        select(DeploymentRow)
        .where(DeploymentRow.model_id == model_id, DeploymentRow.alias == alias)
        .order_by(DeploymentRow.deployed_at.desc(), DeploymentRow.id.desc())
    )
    for period in periods:
        if period.version_id in seen:
            continue
        seen.add(period.version_id)  # only a version's latest period decides
        candidates.append(_judge(period, min_healthy_time, now))
    return candidates


def _judge(period: DeploymentRow, minimum: timedelta, now: datetime | None) -> GoodCandidate:
    version = period.version.version
    if period.failed_at is not None:
        after = format_duration(period.failed_at - period.deployed_at)
        return GoodCandidate(
            version, False, f"{version} failed while serving ({after} after deploy)"
        )
    if period.first_healthy_at is None:
        return GoodCandidate(version, False, f"{version} was never seen healthy by a probe")
    end = period.ended_at or now
    healthy = end - period.first_healthy_at if end is not None else timedelta(0)
    served = f"{version} served healthily for {format_duration(healthy)}"
    if healthy < minimum:
        return GoodCandidate(
            version, False, f"{served}, less than the {format_duration(minimum)} minimum"
        )
    return GoodCandidate(version, True, served)


def last_known_good(
    session: Session,
    *,
    model_id: int,
    alias: str = PRODUCTION,
    min_healthy_time: timedelta = DEFAULT_MIN_HEALTHY_TIME,
    now: datetime | None = None,
) -> ModelVersionRow | None:
    """The most recently deployed version, other than the live one, whose last period was good
    for at least ``min_healthy_time``."""
    for candidate in good_version_candidates(
        session, model_id=model_id, alias=alias, min_healthy_time=min_healthy_time, now=now
    ):
        if candidate.good:
            return _version_row(session, model_id, candidate.version)
    return None


def _version_row(session: Session, model_id: int, version: str) -> ModelVersionRow:
    row = session.scalar(
        select(ModelVersionRow).where(
            ModelVersionRow.model_id == model_id, ModelVersionRow.version == version
        )
    )
    assert row is not None  # a version that served cannot have vanished
    return row


def require_last_known_good(
    session: Session,
    *,
    model: RegisteredModelRow,
    alias: str = PRODUCTION,
    min_healthy_time: timedelta = DEFAULT_MIN_HEALTHY_TIME,
    now: datetime | None = None,
    purpose: str = "roll back to",
) -> ModelVersionRow:
    """The last known good version, or Conflict (code ``no_good_version``) saying which versions
    were considered and why each was rejected."""
    candidates = good_version_candidates(
        session, model_id=model.id, alias=alias, min_healthy_time=min_healthy_time, now=now
    )
    good = next((c for c in candidates if c.good), None)
    if good is not None:
        return _version_row(session, model.id, good.version)
    reasons = [c.reason for c in candidates]
    if all(c.live for c in candidates):
        reasons.append(f"no earlier version served {alias}")
    raise Conflict(
        f"{model.name} has no known good {alias} version to {purpose} (a version must serve "
        f"healthily for at least {format_duration(min_healthy_time)}): {'; '.join(reasons)}. "
        'Name the target explicitly (--to, "to") to override',
        code="no_good_version",
        details={
            "min_healthy_time_s": min_healthy_time.total_seconds(),
            "considered": [{"version": c.version, "reason": c.reason} for c in candidates],
        },
    )
