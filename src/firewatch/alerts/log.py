"""The ``alert_log`` table (the journal on PostgreSQL, see `firewatch.alerts.journal`) and the
journal's batch encoding: a received batch is one row, committed before the sender's 2xx; the
processor turns rows into alert state and incidents, then deletes them (a row it cannot process
is set aside with the error, never silently dropped).

Rows keep the sender's body (``source`` names the decoder that reads it) so the request path
does no more than parse, validate and append; Firewatch's own alerts use the ``firewatch``
encoding below.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from firewatch.alerts.models import AlertLogRow
from firewatch.alerts.schemas import Alert, AlertStatus
from firewatch.severity import Signals
from firewatch.store.base import UTCDateTime

INTERNAL = "firewatch"


@dataclass(frozen=True)
class LoggedBatch:
    id: int
    source: str
    received_at: datetime
    payload: bytes


def append(
    session: Session, *, source: str, payload: bytes, count: int, received_at: datetime
) -> int:
    """Append a received batch; returns its id. Through the driver: this is the whole cost of
    accepting alerts, paid once per request."""
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    when = (
        received_at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
        if sqlite
        else received_at
    )
    driver: Any = connection.connection.driver_connection
    cursor = driver.cursor()
    try:
        cursor.execute(
            f"INSERT INTO alert_log (source, received_at, count, payload) "  # noqa: S608
            f"VALUES ({mark}, {mark}, {mark}, {mark}) RETURNING id",
            (source, when, count, payload),
        )
        batch_id = int(cursor.fetchone()[0])
    finally:
        cursor.close()
    return batch_id


def choose_batches(sizes: Sequence[tuple[int, int]], max_alerts: int) -> list[int]:
    """The first batches of ``(id, count)`` that fit ``max_alerts`` alerts (always at least one)."""
    chosen: list[int] = []
    total = 0
    for batch_id, count in sizes:
        if chosen and total + count > max_alerts:
            break
        chosen.append(batch_id)
        total += count
    return chosen


def read_pending(
    session: Session, *, max_alerts: int, in_memory: Container[int] = ()
) -> list[LoggedBatch]:
    """The oldest unprocessed batches, about ``max_alerts`` alerts in all (at least one batch).
    Batches whose alerts the caller still holds (``in_memory``) come without their payload."""
    sizes = session.execute(
        select(AlertLogRow.id, AlertLogRow.count)
        .where(AlertLogRow.error.is_(None))
        .order_by(AlertLogRow.id)
        .limit(max(1, max_alerts))
    ).all()
    chosen = choose_batches(sizes, max_alerts)
    if not chosen:
        return []
    held = [batch_id for batch_id in chosen if batch_id in in_memory]
    chosen = [batch_id for batch_id in chosen if batch_id not in in_memory]
    found = (
        [
            LoggedBatch(batch_id, "", received_at, b"")
            for batch_id, received_at in session.execute(
                select(AlertLogRow.id, AlertLogRow.received_at).where(AlertLogRow.id.in_(held))
            )
        ]
        if held
        else []
    )
    bodies = session.execute(
        select(AlertLogRow.id, AlertLogRow.source, AlertLogRow.received_at, AlertLogRow.payload)
        .where(AlertLogRow.id.in_(chosen))
        .order_by(AlertLogRow.id)
    ).all()
    found += [LoggedBatch(r.id, r.source, r.received_at, bytes(r.payload)) for r in bodies]
    return sorted(found, key=lambda b: b.id)


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
