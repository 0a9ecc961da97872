"""The drills API: start and finish a drill run (what `firewatch drill run` calls), list results."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from firewatch.api.deps import read_access, runtime_of, write_access
from firewatch.drills import service as drill_service
from firewatch.drills.scenarios import SCENARIOS
from firewatch.drills.schemas import DrillFinishIn, DrillRunOut, DrillStartIn, DrillTrigger
from firewatch.incidents.service import Actor

router = APIRouter(prefix="/api/v1/drills", tags=["drills"])

Reader = Annotated[Actor, Depends(read_access)]
Writer = Annotated[Actor, Depends(write_access)]


@router.get("", summary="Drill runs, newest first (times per run: see response times change)")
async def list_drills(
    request: Request,
    _actor: Reader,
    scenario: str | None = None,
    model: str | None = None,
    trigger: DrillTrigger | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[DrillRunOut]:
    return await runtime_of(request).db.read(
        lambda s: [
            drill_service.to_schema(row)
            for row in drill_service.list_drills(
                s, scenario=scenario, model=model, trigger=trigger, limit=limit
            )
        ]
    )


@router.get("/scenarios", summary="The drill scenarios: fault, expected runbook and end state")
async def scenarios(_actor: Reader) -> list[dict[str, Any]]:
    return [
        {
            "name": s.name,
            "title": s.title,
            "fault": s.fault.description,
            "alert": s.alert,
            "runbook": s.runbook,
            "end_state": s.expects,
            "sequence": list(s.sequence),
            "time_limit_s": s.time_limit.total_seconds(),
            "responder": s.responder,
        }
        for s in SCENARIOS.values()
    ]


@router.get("/{run_id}", summary="One drill run")
async def get_drill(run_id: int, request: Request, _actor: Reader) -> DrillRunOut:
    return await runtime_of(request).db.read(
        lambda s: drill_service.to_schema(drill_service.get_drill(s, run_id=run_id))
    )


@router.post(
    "",
    status_code=201,
    summary="Start a drill: incidents opened for the model until it finishes are drills",
)
async def start_drill(body: DrillStartIn, request: Request, actor: Writer) -> DrillRunOut:
    runtime = runtime_of(request)

    def unit(session: Session) -> DrillRunOut:
        row = drill_service.start_drill(
            session, drill=body, actor=actor.name, now=runtime.clock.now()
        )
        return drill_service.to_schema(row)

    return await runtime.writer.run(unit)


@router.post("/{run_id}/finish", summary="Record a drill's result; it stops marking incidents")
async def finish_drill(
    run_id: int, body: DrillFinishIn, request: Request, _actor: Writer
) -> DrillRunOut:
    runtime = runtime_of(request)

    def unit(session: Session) -> DrillRunOut:
        row = drill_service.finish_drill(
            session, run_id=run_id, result=body, now=runtime.clock.now()
        )
        return drill_service.to_schema(row)

    return await runtime.writer.run(unit)
