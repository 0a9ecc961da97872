"""Alerts and silences: list alerts (firing, resolved, suppressed) and manage silences."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from firewatch.alerts import service as alerts_service
from firewatch.alerts import silences as silence_service
from firewatch.alerts.service import AlertOut
from firewatch.alerts.silences import SilenceIn, SilenceOut
from firewatch.api.deps import read_access, runtime_of, write_access
from firewatch.errors import InvalidInput
from firewatch.incidents.service import Actor

router = APIRouter(prefix="/api/v1", tags=["alerts"])

Reader = Annotated[Actor, Depends(read_access)]
Writer = Annotated[Actor, Depends(write_access)]


@router.get("/alerts", summary="Alerts, most recently seen first")
async def list_alerts(
    request: Request,
    _actor: Reader,
    status: Annotated[str | None, Query(description="firing or resolved")] = None,
    model: str | None = None,
    suppressed: Annotated[bool | None, Query(description="Only (or no) suppressed alerts")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AlertOut]:
    if status not in (None, "firing", "resolved"):
        raise InvalidInput(f"unknown alert status {status!r}: expected firing or resolved")
    return await runtime_of(request).db.read(
        lambda s: alerts_service.list_alerts(
            s, status=status, model=model, suppressed=suppressed, limit=limit
        )
    )


@router.get("/silences", summary="Silences (active and pending; expired ones on request)")
async def list_silences(
    request: Request, _actor: Reader, expired: bool = False
) -> list[SilenceOut]:
    runtime = runtime_of(request)
    return await runtime.db.read(
        lambda s: silence_service.list_silences(s, now=runtime.clock.now(), include_expired=expired)
    )


@router.post("/silences", status_code=201, summary="Silence alerts matching label matchers")
async def create_silence(body: SilenceIn, request: Request, actor: Writer) -> SilenceOut:
    runtime = runtime_of(request)

    def unit(session: Session) -> SilenceOut:
        now = runtime.clock.now()
        row = silence_service.create_silence(session, silence=body, created_by=actor.name, now=now)
        return silence_service.to_schema(row, now)

    return await runtime.writer.run(unit)


@router.delete("/silences/{silence_id}", summary="Expire a silence now")
async def expire_silence(silence_id: int, request: Request, _actor: Writer) -> SilenceOut:
    runtime = runtime_of(request)

    def unit(session: Session) -> SilenceOut:
        now = runtime.clock.now()
        row = silence_service.expire_silence(session, silence_id=silence_id, now=now)
        return silence_service.to_schema(row, now)

    return await runtime.writer.run(unit)
