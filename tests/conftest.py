"""Shared fixtures: databases (SQLite always; PostgreSQL when reachable), clocks and writers."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from firewatch.clock import FakeClock
from firewatch.schema import metadata
from firewatch.store import migrate
from firewatch.store.db import Database, normalise_url
from firewatch.store.writer import Writer

POSTGRES_ENV = "FIREWATCH_TEST_POSTGRES_URL"
DEFAULT_POSTGRES = "postgresql://firewatch:firewatch@127.0.0.1:5432/firewatch_test"
_pg_state: dict[str, object] = {}


def _postgres_url() -> str:
    """A migrated PostgreSQL database, or skip (fail under CI=true) with the reason."""
    if "url" in _pg_state:
        return str(_pg_state["url"])
    if "error" in _pg_state:
        _unavailable(str(_pg_state["error"]))
    url = normalise_url(os.environ.get(POSTGRES_ENV, DEFAULT_POSTGRES))
    try:
        engine = create_engine(url)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        db = Database(url)
        with db.write_engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        migrate.upgrade(db)
        db.dispose()
    except OperationalError as exc:
        _pg_state["error"] = f"PostgreSQL not reachable at {url} ({exc.orig}); set {POSTGRES_ENV}"
        _unavailable(str(_pg_state["error"]))
    _pg_state["url"] = url
    return url


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(f"SKIPPED LOUDLY: {reason}")


def _truncate(db: Database) -> None:
    tables = ", ".join(t.name for t in metadata.sorted_tables)
    with db.write_engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def sqlite_db(tmp_path: pytest.TempPathFactory) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path}/firewatch.db")
    migrate.upgrade(db)
    yield db
    db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: pytest.TempPathFactory) -> Iterator[Database]:
    """The same test on SQLite and on a real PostgreSQL server."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path}/firewatch.db")
        migrate.upgrade(database)
    else:
        database = Database(_postgres_url())
        _truncate(database)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def writer(db: Database) -> Iterator[Writer]:
    w = Writer(db)
    w.start()
    yield w
    w.stop()
