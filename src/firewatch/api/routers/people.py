"""People: list, and add or update (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from firewatch.api.deps import admin_access, read_access, runtime_of
from firewatch.incidents.service import Actor
from firewatch.people import service as people_service
from firewatch.people.schemas import PersonIn, PersonOut

router = APIRouter(prefix="/api/v1/people", tags=["people"])


@router.get("", summary="Everyone who can be assigned, paged or given a role")
async def list_people(
    request: Request, _actor: Annotated[Actor, Depends(read_access)]
) -> list[PersonOut]:
    return await runtime_of(request).db.read(people_service.list_people)


@router.put("", summary="Add a person, or update one by handle")
async def put_person(
    body: PersonIn, request: Request, _actor: Annotated[Actor, Depends(admin_access)]
) -> PersonOut:
    runtime = runtime_of(request)

    def unit(session: Session) -> PersonOut:
        row = people_service.upsert_person(session, person=body, now=runtime.clock.now())
        return people_service.to_schema(row)

    return await runtime.writer.run(unit)
