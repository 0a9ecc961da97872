"""Bulk writes of alert rows straight through the database driver: the hot path of processing.

SQLAlchemy's per-row parameter processing costs tens of microseconds a row; at tens of
thousands of alerts a second that is most of the budget, so new and changed alert rows are
written with the driver's ``executemany`` and values prepared here (JSON text, UTC times).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

COLUMNS = (
    "fingerprint", "alertname", "model", "source", "severity", "status", "suppressed_by",
    "labels", "annotations", "signals", "starts_at", "ends_at", "last_seen_at", "incident_id",
)  # fmt: skip
JSON_COLUMNS = frozenset({"labels", "annotations", "signals"})
TIME_COLUMNS = frozenset({"starts_at", "ends_at", "last_seen_at"})


class Values:
    """Turns Python values into what the driver takes for one dialect; repeated times (most
    alerts of a batch share their start) are converted once."""

    def __init__(self, sqlite: bool) -> None:
        self.sqlite = sqlite
        self._times: dict[datetime, Any] = {}

    def time(self, value: datetime | None) -> Any:
        if value is None or not self.sqlite:
            return value
        found = self._times.get(value)
        if found is None:
            if len(self._times) > 10_000:
                self._times.clear()
            naive = value.astimezone(UTC).replace(tzinfo=None)
            found = self._times[value] = naive.isoformat(sep=" ", timespec="microseconds")
        return found

    def json(self, value: Any) -> str:
        return orjson.dumps(value).decode()

    def prepare(self, name: str, value: Any) -> Any:
        if name in JSON_COLUMNS:
            return self.json(value)
        if name in TIME_COLUMNS:
            return self.time(value)
        return value


def is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _driver(session: Session) -> tuple[Any, bool, str]:
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    return connection.connection.driver_connection, sqlite, "?" if sqlite else "%s"


def _slot(name: str, mark: str, sqlite: bool) -> str:
    return f"{mark}::jsonb" if name in JSON_COLUMNS and not sqlite else mark


def insert_alerts(session: Session, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert alert rows: tuples in ``COLUMNS`` order, prepared with `Values`."""
    if not rows:
        return
    raw, sqlite, mark = _driver(session)
    slots = ", ".join(_slot(c, mark, sqlite) for c in COLUMNS)
    sql = f"INSERT INTO alerts ({', '.join(COLUMNS)}) VALUES ({slots})"  # noqa: S608 - fixed names
    cursor = raw.cursor()
    try:
        cursor.executemany(sql, list(rows))
    finally:
        cursor.close()


def update_alerts(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Update alert rows by fingerprint; rows with the same set of columns share one statement."""
    if not rows:
        return
    raw, sqlite, mark = _driver(session)
    values = Values(sqlite)
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(sorted(k for k in row if k != "fingerprint"))].append(row)
    cursor = raw.cursor()
    try:
        for names, group in groups.items():
            sets = ", ".join(f"{n} = {_slot(n, mark, sqlite)}" for n in names)
            sql = f"UPDATE alerts SET {sets} WHERE fingerprint = {mark}"  # noqa: S608 - fixed names
            params = [
                (*(values.prepare(n, row[n]) for n in names), row["fingerprint"]) for row in group
            ]
            cursor.executemany(sql, params)
    finally:
        cursor.close()
