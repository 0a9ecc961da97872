"""The incident API: declare, list, show, transition, acknowledge, assign, note, update, stats."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from firewatch.api.deps import read_access, runtime_of, write_access
from firewatch.errors import InvalidInput
from firewatch.incidents import queries as incident_queries
from firewatch.incidents import service as incident_service
from firewatch.incidents.lifecycle import Status, parse_status
from firewatch.incidents.models import IncidentRow
from firewatch.incidents.schemas import (
    AssignIn,
    DeclareIn,
    IncidentOut,
    IncidentPage,
    NoteIn,
    SeverityIn,
    StatsOut,
    TransitionIn,
    UpdateIn,
)
from firewatch.incidents.service import Actor
from firewatch.postmortem.document import build_postmortem
from firewatch.severity import Severity

router = APIRouter(prefix="/api/v1", tags=["incidents"])

Reader = Annotated[Actor, Depends(read_access)]
Writer = Annotated[Actor, Depends(write_access)]


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: str | None = Field(None, max_length=20_000)
    note: str | None = Field(None, max_length=20_000)


async def _change(
    request: Request, ref: str, change: Callable[[Session, IncidentRow, datetime], object]
) -> IncidentOut:
    runtime = runtime_of(request)

    def unit(session: Session) -> IncidentOut:
        now = runtime.clock.now()
        row = incident_service.get_incident(session, ref=ref, for_update=True)
        change(session, row, now)
        return incident_queries.full_incident(session, incident_id=row.id, now=now)

    return await runtime.writer.run(unit)


@router.post("/incidents", status_code=201, summary="Declare an incident (a human report)")
async def declare(body: DeclareIn, request: Request, actor: Writer) -> IncidentOut:
    runtime = runtime_of(request)
    policy = runtime.config.severity_policy

    def unit(session: Session) -> IncidentOut:
        now = runtime.clock.now()
        group = f"model={body.model}" if body.model else None
        if group and incident_service.find_open_incident(session, group_key=group):
            group = None  # an incident is already open for this model: keep both, alerts go there
        row = incident_service.open_incident(
            session,
            title=body.title,
            severity=body.severity,
            now=now,
            policy=policy,
            actor=actor,
            description=body.description,
            model=body.model,
            model_version=body.model_version,
            group_key=group,
            assigned_to=body.assigned_to,
        )
        return incident_queries.full_incident(session, incident_id=row.id, now=now)

    return await runtime.writer.run(unit)


def _utc(name: str, value: datetime | None) -> datetime | None:
    """A query-string time as UTC; it must carry a timezone and be representable."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput(f"{name} needs a timezone, e.g. 2026-01-15T14:30:00Z")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(f"{name} is out of range") from None


def _csv(value: str | None) -> list[str]:
    return [v for v in (value or "").split(",") if v.strip()]


@router.get("/incidents", summary="List incidents, newest first")
async def list_incidents(
    request: Request,
    _actor: Reader,
    status: Annotated[str | None, Query(description="Comma-separated statuses")] = None,
    severity: Annotated[str | None, Query(description="Comma-separated SEV1..SEV4")] = None,
    model: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> IncidentPage:
    runtime = runtime_of(request)
    try:
        statuses = [parse_status(s) for s in _csv(status)]
        severities = [Severity.parse(s) for s in _csv(severity)]
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    start, end = _utc("since", since), _utc("until", until)
    return await runtime.db.read(
        lambda s: incident_queries.list_incidents(
            s,
            now=runtime.clock.now(),
            statuses=statuses,
            severities=severities,
            model=model,
            since=start,
            until=end,
            limit=limit,
            offset=offset,
        )
    )


@router.get("/incidents/{ref}", summary="One incident with its timeline")
async def get_incident(ref: str, request: Request, _actor: Reader) -> IncidentOut:
    runtime = runtime_of(request)

    def read(session: Session) -> IncidentOut:
        row = incident_service.get_incident(session, ref=ref)
        return incident_queries.full_incident(session, incident_id=row.id, now=runtime.clock.now())

    return await runtime.db.read(read)


@router.post("/incidents/{ref}/transition", summary="Move to another status (409 if not allowed)")
async def transition(ref: str, body: TransitionIn, request: Request, actor: Writer) -> IncidentOut:
    target = parse_status(body.status)
    return await _change(
        request,
        ref,
        lambda s, row, now: incident_service.transition(
            s,
            incident=row,
            to=target,
            actor=actor,
            now=now,
            note=body.note,
            resolution=body.resolution,
        ),
    )


@router.post("/incidents/{ref}/acknowledge", summary="Acknowledge (take ownership)")
async def acknowledge(ref: str, request: Request, actor: Writer) -> IncidentOut:
    return await _change(
        request,
        ref,
        lambda s, row, now: incident_service.acknowledge(s, incident=row, actor=actor, now=now),
    )


@router.post("/incidents/{ref}/resolve", summary="Resolve by hand")
async def resolve(
    ref: str, request: Request, actor: Writer, body: ResolveIn | None = None
) -> IncidentOut:
    body = body or ResolveIn()
    return await _change(
        request,
        ref,
        lambda s, row, now: incident_service.transition(
            s,
            incident=row,
            to=Status.RESOLVED,
            actor=actor,
            now=now,
            note=body.note,
            resolution=body.resolution,
        ),
    )


@router.post("/incidents/{ref}/severity", summary="Raise, or lower with a reason")
async def set_severity(ref: str, body: SeverityIn, request: Request, actor: Writer) -> IncidentOut:
    policy = runtime_of(request).config.severity_policy
    return await _change(
        request,
        ref,
        lambda s, row, now: incident_service.set_severity(
            s,
            incident=row,
            severity=body.severity,
            actor=actor,
            now=now,
            policy=policy,
            reason=body.reason,
        ),
    )


@router.post("/incidents/{ref}/assign", summary="Assign an owner or a role")
async def assign(ref: str, body: AssignIn, request: Request, actor: Writer) -> IncidentOut:
    return await _change(
        request,
        ref,
        lambda s, row, now: incident_service.assign(
            s, incident=row, person=body.person, role=body.role, actor=actor, now=now
        ),
    )


@router.post("/incidents/{ref}/notes", status_code=201, summary="Add a note to the timeline")
async def add_note(ref: str, body: NoteIn, request: Request, actor: Writer) -> IncidentOut:
    return await _change(
        request,
        ref,
        lambda s, row, now: incident_service.add_note(
            s, incident=row, text=body.text, actor=actor, now=now
        ),
    )


@router.post(
    "/incidents/{ref}/updates",
    status_code=201,
    summary="Post a stakeholder status update (to the timeline and the incident's channels)",
)
async def post_update(ref: str, body: NoteIn, request: Request, actor: Writer) -> IncidentOut:
    return await _change(
        request,
        ref,
        lambda s, row, now: incident_service.post_status_update(
            s, incident=row, text=body.text, actor=actor, now=now
        ),
    )


@router.post(
    "/incidents/{ref}/escalate",
    summary="Escalate now: the next level of the incident's escalation policy is paged",
)
async def escalate(ref: str, body: NoteIn, request: Request, actor: Writer) -> IncidentOut:
    return await _change(
        request,
        ref,
        lambda s, row, now: incident_service.escalate(
            s, incident=row, reason=body.text, actor=actor, now=now
        ),
    )


@router.patch("/incidents/{ref}", summary="Set title, description, root cause or resolution")
async def update(ref: str, body: UpdateIn, request: Request, actor: Writer) -> IncidentOut:
    if not body.model_fields_set:
        raise InvalidInput("nothing to update: give title, description, root_cause or resolution")
    return await _change(
        request,
        ref,
        lambda s, row, now: incident_service.update_record(
            s, incident=row, actor=actor, now=now, **body.model_dump(exclude_unset=True)
        ),
    )


@router.get(
    "/incidents/{ref}/postmortem",
    response_class=PlainTextResponse,
    summary="The post-mortem as Markdown",
)
async def postmortem(ref: str, request: Request, _actor: Reader) -> PlainTextResponse:
    runtime = runtime_of(request)

    text = await runtime.db.read(
        lambda s: build_postmortem(
            s, ref=ref, now=runtime.clock.now(), policy=runtime.config.severity_policy
        )
    )
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


@router.get("/stats", summary="MTTA, MTTR, counts per severity and SLA compliance")
async def stats(
    request: Request,
    _actor: Reader,
    since: datetime | None = None,
    until: datetime | None = None,
    include_drills: Annotated[bool, Query(description="Count drill incidents too")] = False,
) -> StatsOut:
    runtime = runtime_of(request)
    start, end = _utc("since", since), _utc("until", until)
    return await runtime.db.read(
        lambda s: incident_queries.incident_stats(
            s, now=runtime.clock.now(), since=start, until=end, include_drills=include_drills
        )
    )
