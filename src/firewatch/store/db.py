"""Database engines and sessions: where the database is, how SQLite is tuned, how reads and writes begin.

SQLite runs in WAL mode with a busy timeout; write transactions start with ``BEGIN IMMEDIATE`` so
a transaction never fails half-way when it upgrades from read to write, and read sessions run on
a separate engine whose connections are ``query_only``. PostgreSQL URLs use psycopg 3.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")

DATABASE_URL_ENV = "FIREWATCH_DATABASE_URL"
DEFAULT_DATA_DIR = Path(".firewatch")
SQLITE_BUSY_TIMEOUT_S = 30.0


def resolve_database_url(explicit: str | None = None) -> str:
    """The database URL: ``explicit``, else ``$FIREWATCH_DATABASE_URL``, else SQLite in ./.firewatch/."""
    url = explicit or os.environ.get(DATABASE_URL_ENV)
    if url:
        return normalise_url(url)
    return f"sqlite:///{DEFAULT_DATA_DIR / 'firewatch.db'}"


def normalise_url(url: str) -> str:
    """Point bare ``postgresql://`` / ``postgres://`` URLs at the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def redact_url(url: str) -> str:
    """The URL with its password hidden, for logs and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL is shown as it is — it holds no parsed secret
        return "<unparseable database URL>"


class Database:
    """The two engines (writes, reads) for one database URL.

    Usage: ``db = Database("sqlite:///fw.db"); with db.write_session() as s: ...``
    """

    def __init__(self, url: str | None = None, *, echo: bool = False) -> None:
        self.url = resolve_database_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        if self.dialect not in {"sqlite", "postgresql"}:
            raise ValueError(
                f"unsupported database {redact_url(self.url)!r}: use a sqlite:/// or postgresql:// URL"
            )
        if self.is_sqlite:
            _ensure_sqlite_dir(parsed)
        self.write_engine = self._make_engine(parsed, echo=echo, read_only=False)
        self.read_engine = self._make_engine(parsed, echo=echo, read_only=True)
        self._write_sessions = sessionmaker(self.write_engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """A session in a write transaction, committed on success and rolled back on error."""
        with self._write_sessions() as session, session.begin():
            yield session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A short read-only session; keep it open only as long as the query needs."""
        with self._read_sessions() as session, session.begin():
            yield session

    async def read(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn`` in a short read session on a worker thread, for async callers."""

        def run() -> T:
            with self.read_session() as session:
                return fn(session)

        return await asyncio.to_thread(run)

    def dispose(self) -> None:
        self.write_engine.dispose()
        self.read_engine.dispose()

    def _make_engine(self, url: URL, *, echo: bool, read_only: bool) -> Engine:
        if not self.is_sqlite:
            options = {"postgresql_readonly": True} if read_only else {}
            return create_engine(
                url,
                echo=echo,
                pool_pre_ping=True,
                pool_size=10,
                execution_options=options,
                json_serializer=_json_dumps,
                json_deserializer=orjson.loads,
            )
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
        )
        _tune_sqlite(engine, read_only=read_only)
        _on_begin(engine, "BEGIN" if read_only else "BEGIN IMMEDIATE")
        return engine


def _json_dumps(value: Any) -> str:
    """JSON columns through orjson: several times faster than the json module on hot paths."""
    return orjson.dumps(value).decode()


def _ensure_sqlite_dir(url: URL) -> None:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _tune_sqlite(engine: Engine, *, read_only: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so that our BEGIN statement is the one used.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        # NORMAL survives a process crash (kill -9) in WAL mode; only power loss can cost the tail.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()


def _on_begin(engine: Engine, statement: str) -> None:
    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql(statement)
