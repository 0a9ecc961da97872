"""The model registry API: models, versions, deploy, rollback, deploy history, aliases, traffic
splits and the active region."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from firewatch.api.deps import read_access, require, runtime_of, write_access
from firewatch.app import Runtime
from firewatch.auth.service import Scope
from firewatch.detect.events import EventsAccepted, LabelsAccepted, parse_events, parse_labels
from firewatch.errors import InvalidInput, NotFound
from firewatch.incidents.service import Actor
from firewatch.registry import aliases as registry_aliases
from firewatch.registry import regions as registry_regions
from firewatch.registry import service as registry_service
from firewatch.registry import traffic as registry_traffic
from firewatch.registry.adapters import follow_deployment
from firewatch.registry.schemas import (
    DEFAULT_MIN_HEALTHY_TIME,
    AliasIn,
    AliasOut,
    DeployIn,
    DeploymentOut,
    ModelOut,
    RegionIn,
    RegionOut,
    RegionSwitchOut,
    RollbackIn,
    TrafficIn,
    TrafficOut,
    VersionIn,
    VersionOut,
)

router = APIRouter(prefix="/api/v1/models", tags=["models"])

Reader = Annotated[Actor, Depends(read_access)]
Writer = Annotated[Actor, Depends(write_access)]
Ingester = Annotated[Actor, Depends(require(Scope.INGEST))]

MAX_EVENTS_BODY = 32 * 1024 * 1024


def _min_healthy_time(runtime: Runtime, name: str) -> timedelta:
    """The model's configured minimum healthy time for "last known good" (or the default)."""
    model = runtime.config.model(name)
    return model.rollback.min_healthy_time if model else DEFAULT_MIN_HEALTHY_TIME


@router.get("", summary="Every registered model with its aliases and last known good version")
async def list_models(request: Request, _actor: Reader) -> list[ModelOut]:
    runtime = runtime_of(request)
    times = {m.name: m.rollback.min_healthy_time for m in runtime.config.models}
    now = runtime.clock.now()
    return await runtime.db.read(
        lambda s: registry_service.list_models(s, min_healthy_times=times, now=now)
    )


@router.get(
    "/{name}",
    summary="One model: versions, aliases, live deployment, last known good, traffic split, region",
)
async def get_model(name: str, request: Request, _actor: Reader) -> ModelOut:
    runtime = runtime_of(request)
    minimum, now = _min_healthy_time(runtime, name), runtime.clock.now()
    return await runtime.db.read(
        lambda s: registry_service.describe_model(s, name=name, min_healthy_time=minimum, now=now)
    )


@router.post("/{name}/versions", status_code=201, summary="Register a version")
async def register_version(
    name: str, body: VersionIn, request: Request, _actor: Writer
) -> VersionOut:
    runtime = runtime_of(request)

    def unit(session: Session) -> VersionOut:
        row = registry_service.register_version(
            session,
            model=name,
            version=body.version,
            now=runtime.clock.now(),
            metadata=body.metadata,
            description=body.description,
        )
        return VersionOut(
            version=row.version,
            description=row.description,
            metadata=dict(row.metadata_),
            created_at=row.created_at,
        )

    return await runtime.writer.run(unit)


@router.post(
    "/{name}/deploy",
    summary="Point an alias (default production) at a version; serving follows production",
    responses={502: {"description": "The registry moved but the serving adapter failed"}},
)
async def deploy(name: str, body: DeployIn, request: Request, actor: Writer) -> DeploymentOut:
    runtime = runtime_of(request)

    def unit(session: Session) -> DeploymentOut:
        row = registry_service.deploy(
            session,
            model=name,
            version=body.version,
            now=runtime.clock.now(),
            actor=actor.name,
            alias=body.alias,
            reason=body.reason,
        )
        return registry_service.deployment_out(name, row)

    return await _follow(runtime, await runtime.writer.run(unit))


async def _follow(runtime: Runtime, deployment: DeploymentOut) -> DeploymentOut:
    """Serving follows a move of production (a 502 saying so when it does not)."""
    model = runtime.config.model(deployment.model)
    line = await follow_deployment(model, runtime.client, deployment)
    return deployment.model_copy(update={"serving": line})


@router.post(
    "/{name}/rollback",
    summary="Roll back (default: to the last known good version); serving follows production",
    responses={502: {"description": "The registry moved but the serving adapter failed"}},
)
async def rollback(name: str, body: RollbackIn, request: Request, actor: Writer) -> DeploymentOut:
    runtime = runtime_of(request)

    def unit(session: Session) -> DeploymentOut:
        row = registry_service.rollback(
            session,
            model=name,
            now=runtime.clock.now(),
            actor=actor.name,
            to=body.to,
            alias=body.alias,
            reason=body.reason,
            min_healthy_time=_min_healthy_time(runtime, name),
        )
        return registry_service.deployment_out(name, row)

    return await _follow(runtime, await runtime.writer.run(unit))


@router.get("/{name}/traffic", summary="How an alias's traffic is split across versions")
async def get_traffic(
    name: str, request: Request, _actor: Reader, alias: str = "production"
) -> TrafficOut:
    return await runtime_of(request).db.read(
        lambda s: registry_traffic.get_traffic(s, model=name, alias=alias)
    )


@router.put(
    "/{name}/traffic",
    summary="Split an alias's traffic by percent (one version at 100 clears the split)",
)
async def put_traffic(name: str, body: TrafficIn, request: Request, actor: Writer) -> TrafficOut:
    runtime = runtime_of(request)
    return await runtime.writer.run(
        lambda s: registry_traffic.set_traffic(
            s,
            model=name,
            alias=body.alias,
            weights=body.weights,
            now=runtime.clock.now(),
            actor=actor.name,
            reason=body.reason,
        )
    )


@router.put(
    "/{name}/aliases/{alias}",
    summary="Point a non-serving alias (such as fallback) at a version",
)
async def put_alias(
    name: str, alias: str, body: AliasIn, request: Request, actor: Writer
) -> AliasOut:
    runtime = runtime_of(request)

    def unit(session: Session) -> AliasOut:
        row = registry_aliases.set_alias(
            session,
            model=name,
            alias=alias,
            version=body.version,
            now=runtime.clock.now(),
            actor=actor.name,
        )
        return AliasOut(model=name, alias=alias, version=row.version.version)

    return await runtime.writer.run(unit)


@router.delete("/{name}/aliases/{alias}", summary="Remove a non-serving alias")
async def delete_alias(name: str, alias: str, request: Request, actor: Writer) -> AliasOut:
    runtime = runtime_of(request)
    version = await runtime.writer.run(
        lambda s: registry_aliases.remove_alias(
            s, model=name, alias=alias, now=runtime.clock.now(), actor=actor.name
        )
    )
    return AliasOut(model=name, alias=alias, version=version)


def _regions(runtime: Runtime, name: str) -> list[str]:
    model = runtime.config.model(name)
    if model is None or not model.endpoints:
        raise NotFound(
            f"model {name!r} has no endpoints in the config (models[].endpoints)",
            code="no_endpoints",
        )
    return [e.region for e in model.endpoints]


@router.get("/{name}/region", summary="The region serving the model and its recent switches")
async def get_region(name: str, request: Request, _actor: Reader) -> RegionOut:
    runtime = runtime_of(request)
    regions = _regions(runtime, name)

    def read(session: Session) -> RegionOut:
        active = registry_regions.active_region(session, model=name)
        history: list[RegionSwitchOut] = []
        if registry_regions.last_switch(session, model=name) is not None:
            history = registry_regions.region_history(session, model=name)
        return RegionOut(
            model=name,
            active_region=active if active in regions else regions[0],
            regions=regions,
            history=history,
        )

    return await runtime.db.read(read)


@router.put(
    "/{name}/region",
    summary="Record that the model is now served from another region (no hook is called)",
)
async def put_region(name: str, body: RegionIn, request: Request, actor: Writer) -> RegionSwitchOut:
    runtime = runtime_of(request)
    regions = _regions(runtime, name)
    switch = await runtime.writer.run(
        lambda s: registry_regions.switch_out(
            name,
            registry_regions.switch_region(
                s,
                model=name,
                to=body.region,
                regions=regions,
                now=runtime.clock.now(),
                actor=actor.name,
                reason=body.reason,
            ),
        )
    )
    registry_regions.switched()
    return switch


@router.get("/{name}/history", summary="Deployments, newest first")
async def history(
    name: str, request: Request, _actor: Reader, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[DeploymentOut]:
    return await runtime_of(request).db.read(
        lambda s: registry_service.history(s, model=name, limit=limit)
    )


async def _known(runtime: Runtime, name: str) -> None:
    """Events are taken for models in the config or the registry, nothing else."""
    if name in runtime.events.configs or name in runtime.events.models:
        return
    try:
        await runtime.db.read(lambda s: registry_service.get_model(s, name=name))
    except NotFound as exc:
        raise NotFound(
            f"unknown model {name!r}: add it under `models:` in the config or register a "
            "version (`firewatch model register`) before sending its events",
            code="unknown_model",
            details={"configured": sorted(runtime.events.configs), **exc.details},
        ) from exc


async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_EVENTS_BODY:
        raise InvalidInput(
            f"request body over {MAX_EVENTS_BODY // (1024 * 1024)} MB: send smaller batches",
            code="payload_too_large",
        )
    return body


@router.post(
    "/{name}/events",
    status_code=202,
    summary="Inference events (predictions): windows for error rate, latency and accuracy",
)
async def post_events(name: str, request: Request, _actor: Ingester) -> EventsAccepted:
    runtime = runtime_of(request)
    await _known(runtime, name)
    events = parse_events(await _body(request))
    return runtime.events.of(name).add_events(events, runtime.clock.now())


@router.post(
    "/{name}/labels",
    status_code=202,
    summary="Ground truth for earlier predictions, joined by request id (accuracy)",
)
async def post_labels(name: str, request: Request, _actor: Ingester) -> LabelsAccepted:
    runtime = runtime_of(request)
    await _known(runtime, name)
    labels = parse_labels(await _body(request))
    return runtime.events.of(name).add_labels(labels, runtime.clock.now())
