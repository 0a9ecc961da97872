"""The runbook API: the runbooks, a dry run, the runs on an incident, a person's decisions on
them (approve or reject a proposed action, tick or skip a checklist item), and starting a
runbook on an incident by hand."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from firewatch.api.deps import read_access, runtime_of, write_access
from firewatch.app import Runtime
from firewatch.errors import Conflict, NotFound
from firewatch.incidents import service as incident_service
from firewatch.incidents.lifecycle import Status
from firewatch.incidents.service import Actor
from firewatch.runbooks import engine as runbook_engine
from firewatch.runbooks import runs as runbook_runs
from firewatch.runbooks.document import to_markdown
from firewatch.runbooks.models import RunbookRunRow
from firewatch.severity import Severity

router = APIRouter(prefix="/api/v1", tags=["runbooks"])

Reader = Annotated[Actor, Depends(read_access)]
Writer = Annotated[Actor, Depends(write_access)]


class RunbookSummary(BaseModel):
    name: str
    title: str
    alert: list[str]
    severity: str | None
    steps: int


class RunbookList(BaseModel):
    items: list[RunbookSummary]
    broken: dict[str, str] = Field(description="Runbook files that do not load, and why.")


class RunbookDoc(BaseModel):
    name: str
    definition: dict[str, Any]
    markdown: str


class DryRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, description="The model the incident would be about.")
    severity: Severity = Field(Severity.SEV2, description="Decides which actions need approval.")


class PlannedStepOut(BaseModel):
    step: str
    title: str
    type: str
    mode: str
    outcome: str
    summary: str


class DryRunOut(BaseModel):
    runbook: str
    model: str | None
    severity: Severity
    steps: list[PlannedStepOut]


class RunOut(BaseModel):
    runbook: str
    status: str
    step_index: int
    waiting: dict[str, Any] | None
    results: dict[str, Any]
    decisions: dict[str, Any]
    mitigated: bool
    started_at: datetime
    finished_at: datetime | None


class StartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    runbook: str = Field(min_length=1, max_length=100)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject", "done", "skip"]
    note: str = Field("", max_length=2000)


def _engine(runtime: Runtime) -> runbook_engine.RunbookEngine:
    return runbook_engine.RunbookEngine(
        runtime.library, runtime.config, runtime.db, runtime.writer, runtime.clock, runtime.client
    )


def _run_out(run: RunbookRunRow) -> RunOut:
    return RunOut(
        runbook=run.runbook,
        status=run.status,
        step_index=run.step_index,
        waiting=run.waiting,
        results=dict(run.results),
        decisions=dict(run.decisions or {}),
        mitigated=run.mitigated,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


@router.get("/runbooks", summary="The runbooks (built-in and configured)")
async def list_runbooks(request: Request, _actor: Reader) -> RunbookList:
    library = runtime_of(request).library
    items = []
    for name in library.names():
        runbook = library.get(name)
        items.append(
            RunbookSummary(
                name=name,
                title=runbook.title,
                alert=runbook.alert,
                severity=runbook.severity.value if runbook.severity else None,
                steps=len(runbook.steps),
            )
        )
    return RunbookList(items=items, broken=library.broken)


@router.get("/runbooks/{name}", summary="One runbook, as data and as Markdown")
async def show_runbook(name: str, request: Request, _actor: Reader) -> RunbookDoc:
    runtime = runtime_of(request)
    runbook = runtime.library.get(name)
    return RunbookDoc(
        name=name,
        definition=runbook.model_dump(mode="json", by_alias=True),
        markdown=to_markdown(runbook, runtime.config.runbooks.policy),
    )


@router.post("/runbooks/{name}/dry-run", summary="Walk a runbook without changing anything")
async def dry_run(name: str, body: DryRunIn, request: Request, _actor: Writer) -> DryRunOut:
    """Checks run for real (they only read); actions say what they would do and whether policy
    lets them run alone at this severity; nothing is recorded."""
    runtime = runtime_of(request)
    runbook = runtime.library.get(name)
    if body.model is not None and runtime.config.model(body.model) is None:
        known = ", ".join(m.name for m in runtime.config.models) or "none"
        raise NotFound(f"no model {body.model!r} in the configuration (configured: {known})")
    planned = await _engine(runtime).plan(
        runbook, model=body.model, severity=body.severity, display_id="INC-DRY-RUN"
    )
    return DryRunOut(
        runbook=name,
        model=body.model,
        severity=body.severity,
        steps=[PlannedStepOut(**vars(p)) for p in planned],
    )


@router.get("/incidents/{ref}/runbooks", summary="The runbook runs of an incident")
async def runs(ref: str, request: Request, _actor: Reader) -> list[RunOut]:
    def read(session: Session) -> list[RunOut]:
        incident = incident_service.get_incident(session, ref=ref)
        return [_run_out(r) for r in runbook_runs.runs_of(session, incident.id)]

    return await runtime_of(request).db.read(read)


@router.post(
    "/incidents/{ref}/runbooks", status_code=202, summary="Run a runbook on an incident now"
)
async def start(ref: str, body: StartIn, request: Request, actor: Writer) -> dict[str, str]:
    runtime = runtime_of(request)
    engine = _engine(runtime)
    runtime.library.get(body.runbook)  # 404 / 400 before anything is written

    def unit(session: Session) -> dict[str, str]:
        incident = incident_service.get_incident(session, ref=ref, for_update=True)
        if not Status(incident.status).is_open:
            raise Conflict(f"{incident.display_id} is {incident.status}: runbooks run on open ones")
        if not engine.start(session, incident, body.runbook, actor=actor.name):
            raise Conflict(
                f"runbook {body.runbook} already ran (or is queued) on {incident.display_id}: "
                f"see `firewatch runbook status {incident.display_id}`",
                code="already_run",
            )
        return {"incident": incident.display_id, "runbook": body.runbook, "status": "queued"}

    return await runtime.writer.run(unit)


@router.post(
    "/incidents/{ref}/runbooks/{runbook}/steps/{step}",
    summary="Approve or reject a proposed action; tick or skip a checklist item",
)
async def decide(
    ref: str, runbook: str, step: str, body: DecisionIn, request: Request, actor: Writer
) -> RunOut:
    runtime = runtime_of(request)

    def unit(session: Session) -> RunOut:
        incident = incident_service.get_incident(session, ref=ref, for_update=True)
        run = runbook_runs.decide(
            session,
            library=runtime.library,
            now=runtime.clock.now(),
            incident=incident,
            runbook=runbook,
            step=step,
            decision=body.decision,
            actor=actor.name,
            note=body.note,
        )
        return _run_out(run)

    return await runtime.writer.run(unit)
