"""The model registry API: models, versions, deploy, rollback and deploy history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from firewatch.api.deps import read_access, runtime_of, write_access
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
