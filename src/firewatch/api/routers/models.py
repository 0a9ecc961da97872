"""The model registry API: models, versions, deploy, rollback and deploy history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from firewatch.api.deps import read_access, require, runtime_of, write_access
from firewatch.app import Runtime
from firewatch.auth.service import Scope
from firewatch.detect.events import EventsAccepted, LabelsAccepted, parse_events, parse_labels
from firewatch.errors import InvalidInput, NotFound
from firewatch.incidents.service import Actor
from firewatch.registry import service as registry_service
from firewatch.registry.schemas import (
    DeployIn,
    DeploymentOut,
    ModelOut,
    RollbackIn,
    VersionIn,
    VersionOut,
)

router = APIRouter(prefix="/api/v1/models", tags=["models"])

Reader = Annotated[Actor, Depends(read_access)]
Writer = Annotated[Actor, Depends(write_access)]
Ingester = Annotated[Actor, Depends(require(Scope.INGEST))]

MAX_EVENTS_BODY = 32 * 1024 * 1024


@router.get("", summary="Every registered model with its aliases and last known good version")
async def list_models(request: Request, _actor: Reader) -> list[ModelOut]:
    return await runtime_of(request).db.read(registry_service.list_models)


@router.get("/{name}", summary="One model: versions, aliases, live deployment, last known good")
async def get_model(name: str, request: Request, _actor: Reader) -> ModelOut:
    return await runtime_of(request).db.read(
        lambda s: registry_service.describe_model(s, name=name)
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


@router.post("/{name}/deploy", summary="Point an alias (default production) at a version")
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

    return await runtime.writer.run(unit)


@router.post("/{name}/rollback", summary="Roll back (default: to the last known good version)")
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
        )
        return registry_service.deployment_out(name, row)

    return await runtime.writer.run(unit)


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
