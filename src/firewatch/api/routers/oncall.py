"""On-call: who is on call now or at a time, upcoming shifts, and schedule overrides."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from firewatch.api.deps import read_access, runtime_of, write_access
from firewatch.app import Runtime
from firewatch.incidents.service import Actor
from firewatch.oncall import service as oncall_service
from firewatch.oncall.schedules import OnCall, parse_time
from firewatch.oncall.schemas import OverrideIn, OverrideOut, ScheduleStatus

router = APIRouter(prefix="/api/v1/oncall", tags=["oncall"])

Reader = Annotated[Actor, Depends(read_access)]
Writer = Annotated[Actor, Depends(write_access)]
TIME_HELP = "ISO 8601; without an offset it is local to the schedule's time zone. Default: now."


def _when(runtime: Runtime, schedule: str, text: str | None) -> datetime:
    if text is None:
        return runtime.clock.now()
    found = oncall_service.get_schedule(runtime.config.oncall, schedule)
    return parse_time(text, found.zone)


@router.get("", summary="Every schedule: who is on call now, until when, and who is next")
async def list_on_call(request: Request, _actor: Reader) -> list[ScheduleStatus]:
    runtime = runtime_of(request)
    config, now = runtime.config.oncall, runtime.clock.now()
    return await runtime.db.read(
        lambda s: [
            oncall_service.status(s, config=config, schedule=schedule.name, at=now)
            for schedule in config.schedules
        ]
    )


@router.get("/{schedule}", summary="Who is on call in a schedule now or at a given time")
async def schedule_status(
    schedule: str,
    request: Request,
    _actor: Reader,
    at: Annotated[str | None, Query(description=TIME_HELP)] = None,
) -> ScheduleStatus:
    runtime = runtime_of(request)
    when = _when(runtime, schedule, at)
    config = runtime.config.oncall
    return await runtime.db.read(
        lambda s: oncall_service.status(s, config=config, schedule=schedule, at=when)
    )


@router.get("/{schedule}/shifts", summary="Who is on call over the coming days, overrides included")
async def list_shifts(
    schedule: str,
    request: Request,
    _actor: Reader,
    start: Annotated[str | None, Query(alias="from", description=TIME_HELP)] = None,
    days: Annotated[int, Query(ge=1, le=366)] = 14,
) -> list[OnCall]:
    runtime = runtime_of(request)
    begin = _when(runtime, schedule, start)
    config = runtime.config.oncall
    return await runtime.db.read(
        lambda s: oncall_service.shifts(
            s, config=config, schedule=schedule, start=begin, end=begin + timedelta(days=days)
        )
    )


@router.get("/{schedule}/overrides", summary="A schedule's current and future overrides")
async def list_overrides(
    schedule: str,
    request: Request,
    _actor: Reader,
    include_past: Annotated[bool, Query(alias="all", description="Ended ones too.")] = False,
) -> list[OverrideOut]:
    runtime = runtime_of(request)
    oncall_service.get_schedule(runtime.config.oncall, schedule)
    now = runtime.clock.now()
    rows = await runtime.db.read(
        lambda s: [
            oncall_service.to_schema(row, now)
            for row in oncall_service.list_overrides(
                s, now=now, schedule=schedule, include_past=include_past
            )
        ]
    )
    return rows


@router.post(
    "/{schedule}/overrides", status_code=201, summary="Put someone on call for a while instead"
)
async def add_override(
    schedule: str, body: OverrideIn, request: Request, actor: Writer
) -> OverrideOut:
    runtime = runtime_of(request)
    config = runtime.config
    declared = {p.handle for p in config.people}

    def unit(session: Session) -> OverrideOut:
        now = runtime.clock.now()
        row = oncall_service.add_override(
            session,
            config=config.oncall,
            schedule=schedule,
            override=body,
            created_by=actor.name,
            now=now,
            declared_people=declared,
        )
        return oncall_service.to_schema(row, now)

    return await runtime.writer.run(unit)


@router.delete("/{schedule}/overrides/{override_id}", summary="Remove an override")
async def delete_override(
    schedule: str, override_id: int, request: Request, _actor: Writer
) -> OverrideOut:
    runtime = runtime_of(request)
    oncall_service.get_schedule(runtime.config.oncall, schedule)

    def unit(session: Session) -> OverrideOut:
        row = oncall_service.delete_override(session, override_id=override_id, schedule=schedule)
        return oncall_service.to_schema(row, runtime.clock.now())

    return await runtime.writer.run(unit)
