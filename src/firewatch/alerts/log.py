"""The durable alert ingest log: a received batch is one row, committed before the sender's 2xx;
the processor turns rows into alert state and incidents, then deletes them (a row it cannot
process is set aside with the error, never silently dropped).

Rows keep the sender's body (``source`` names the decoder that reads it) so the request path
does no more than parse, validate and append; Firewatch's own alerts use the ``firewatch``
encoding below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from firewatch.alerts.models import AlertLogRow
from firewatch.alerts.schemas import Alert, AlertStatus
from firewatch.severity import Signals
from firewatch.store.base import UTCDateTime

ALERTS_LOGGED = "firewatch.alerts_logged"
"""Key set in ``session.info`` when a transaction appended to the log (wakes the processor)."""
INTERNAL = "firewatch"


@dataclass(frozen=True)
class LoggedBatch:
    id: int
    source: str
    received_at: datetime
    payload: bytes


def append(
    session: Session, *, source: str, payload: bytes, count: int, received_at: datetime
) -> None:
    session.add(AlertLogRow(source=source, payload=payload, count=count, received_at=received_at))
    session.info[ALERTS_LOGGED] = True


def read_pending(session: Session, *, max_alerts: int) -> list[LoggedBatch]:
    """The oldest unprocessed batches, about ``max_alerts`` alerts in all (at least one batch)."""
    sizes = session.execute(
        select(AlertLogRow.id, AlertLogRow.count)
        .where(AlertLogRow.error.is_(None))
        .order_by(AlertLogRow.id)
        .limit(max(1, max_alerts))
    ).all()
    chosen: list[int] = []
    total = 0
    for batch_id, count in sizes:
        if chosen and total + count > max_alerts:
            break
        chosen.append(batch_id)
        total += count
    if not chosen:
        return []
    bodies = session.execute(
        select(AlertLogRow.id, AlertLogRow.source, AlertLogRow.received_at, AlertLogRow.payload)
        .where(AlertLogRow.id.in_(chosen))
        .order_by(AlertLogRow.id)
    ).all()
    return [LoggedBatch(r.id, r.source, r.received_at, bytes(r.payload)) for r in bodies]


def backlog(session: Session) -> tuple[int, datetime | None]:
    """How many alerts are logged but not processed yet, and when the oldest arrived."""
    count, oldest = session.execute(
        select(
            func.coalesce(func.sum(AlertLogRow.count), 0), func.min(AlertLogRow.received_at)
        ).where(AlertLogRow.error.is_(None))
    ).one()
    return int(count or 0), UTCDateTime().process_result_value(oldest, session.get_bind().dialect)


def forget(session: Session, *, ids: Sequence[int]) -> None:
    """Delete processed batches (the alerts table and the incident timelines keep the story)."""
    session.execute(delete(AlertLogRow).where(AlertLogRow.id.in_(list(ids))))


def set_aside(session: Session, *, batch_id: int, error: str) -> None:
    """Keep a batch that cannot be processed out of the way, with the reason, for operators."""
    session.execute(
        update(AlertLogRow).where(AlertLogRow.id == batch_id).values(error=error[:2000])
    )


def encode_alerts(alerts: Sequence[Alert]) -> bytes:
    """Firewatch's own alerts (probes, rules, PagerDuty events) in the log's internal encoding."""
    return orjson.dumps(
        [
            {
                "labels": a.labels,
                "annotations": a.annotations,
                "status": a.status.value,
                "starts_at": a.starts_at.isoformat(),
                "ends_at": a.ends_at.isoformat() if a.ends_at else None,
                "signals": a.signals.model_dump(exclude_none=True) if a.signals else None,
                "fingerprint": a.fingerprint,
                "dedup_key": a.dedup_key,
            }
            for a in alerts
        ]
    )


def decode_internal(payload: bytes) -> list[Alert]:
    return [
        Alert(
            labels=item["labels"],
            annotations=item["annotations"],
            status=AlertStatus(item["status"]),
            starts_at=datetime.fromisoformat(item["starts_at"]),
            ends_at=datetime.fromisoformat(item["ends_at"]) if item["ends_at"] else None,
            signals=Signals.model_validate(item["signals"]) if item["signals"] else None,
            fingerprint=item["fingerprint"],
            dedup_key=item["dedup_key"],
        )
        for item in orjson.loads(payload)
    ]
