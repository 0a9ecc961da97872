"""Rerouting a share of a model's production traffic to another version (by default the last
known good one), on behalf of an incident, idempotently."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from firewatch.errors import Conflict, InvalidInput
from firewatch.mitigate.rollback import retire_live
from firewatch.registry import service as registry_service
from firewatch.registry import traffic as registry_traffic
from firewatch.registry.models import DeploymentRow
from firewatch.registry.schemas import DEFAULT_MIN_HEALTHY_TIME

KIND = "reroute"
PRODUCTION = registry_service.PRODUCTION


@dataclass(frozen=True)
class ReroutePlan:
    model: str
    from_version: str
    to_version: str
    percent: int
    weights: dict[str, int]
    reason: str
    already_done: bool

    def describe(self) -> str:
        """``all traffic from v3 to v2`` or ``10% of traffic to v2 (90% stays on v3)``."""
        if self.percent == 100:
            return f"all {self.model} traffic from {self.from_version} to {self.to_version}"
        rest = 100 - self.percent
        return (
            f"{self.percent}% of {self.model} traffic to {self.to_version} "
            f"({rest}% stays on {self.from_version})"
        )


def plan_reroute(
    session: Session,
    *,
    model: str,
    incident: str,
    to: str | None = None,
    percent: int = 100,
    min_healthy_time: timedelta = DEFAULT_MIN_HEALTHY_TIME,
    now: datetime | None = None,
) -> ReroutePlan:
    """What rerouting would do, changing nothing; ``to`` defaults to the last known good version
    (Conflict ``no_good_version`` naming each version considered when there is none)."""
    if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 100:
        raise InvalidInput(f"percent must be a whole number from 1 to 100, got {percent!r}")
    model_row = registry_service.get_model(session, name=model)
    live = registry_service.current_deployment(session, model_id=model_row.id)
    if live is None:
        raise Conflict(f"{model} has no production deployment to reroute", code="not_deployed")
    reason = f"reroute for {incident}"
    done = _already_done(session, model, live, reason, to, percent)
    if done is not None:
        return done
    if to is None:
        to = registry_service.require_last_known_good(
            session,
            model=model_row,
            min_healthy_time=min_healthy_time,
            now=now,
            purpose="reroute to",
        ).version
    registry_service.find_version(session, model=model_row, version=to)
    serving = live.version.version
    if to == serving:
        raise Conflict(f"{model} production already serves {to}", code="already_deployed")
    weights = {to: 100} if percent == 100 else {serving: 100 - percent, to: percent}
    return ReroutePlan(model, serving, to, percent, weights, reason, already_done=False)


def _already_done(
    session: Session,
    model: str,
    live: DeploymentRow,
    reason: str,
    to: str | None,
    percent: int,
) -> ReroutePlan | None:
    """The same reroute (target and percent) this incident already made, if production still
    shows it; a different one for the same incident (10% first, then 100%) goes ahead."""
    current = registry_traffic.get_traffic(session, model=model)
    if current.version is None:
        return None
    same_move = to is None or to == current.version
    if percent == 100 and live.kind == KIND and live.reason == reason and same_move:
        before = live.previous_version.version if live.previous_version else "nothing"
        return ReroutePlan(model, before, current.version, 100, current.weights, reason, True)
    if percent < 100 and current.split and current.reason == reason:
        others = {v: w for v, w in current.weights.items() if v != current.version}
        target = to if to is not None else max(others, key=lambda v: others[v])
        if others.get(target) == percent:
            weights = current.weights
            return ReroutePlan(model, current.version, target, percent, weights, reason, True)
    return None


def reroute(
    session: Session,
    *,
    model: str,
    incident: str,
    actor: str,
    now: datetime,
    to: str | None = None,
    percent: int = 100,
    min_healthy_time: timedelta = DEFAULT_MIN_HEALTHY_TIME,
) -> ReroutePlan:
    """Send ``percent`` of production traffic to ``to``, the rest staying on the live version;
    100 deploys ``to`` (kind ``reroute``, which clears any split). A repeat for the same
    incident is a no-op (``already_done``)."""
    plan = plan_reroute(
        session,
        model=model,
        incident=incident,
        to=to,
        percent=percent,
        min_healthy_time=min_healthy_time,
        now=now,
    )
    if plan.already_done:
        return plan
    if plan.percent == 100:
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
    else:
        registry_traffic.set_traffic(
            session, model=model, weights=plan.weights, now=now, actor=actor, reason=plan.reason
        )
    return plan
