"""On-call over the API (SQLite and PostgreSQL), the service's target resolver, and
``firewatch oncall`` as a user runs it: who is on call, overrides, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from firewatch.auth.service import Scope
from firewatch.clock import FakeClock
from firewatch.config import FirewatchConfig
from firewatch.errors import NotFound
from firewatch.oncall import service as oncall_service
from firewatch.oncall.schedules import Target
from firewatch.oncall.schemas import OverrideIn
from firewatch.people import service as people_service
from firewatch.people.schemas import PersonIn
from firewatch.store import migrate
from firewatch.store.db import Database
from support.api import api_client, make_token

SCHEDULES: dict[str, Any] = {
    "people": [{"handle": "ann"}, {"handle": "bob"}, {"handle": "cat"}],
    "oncall": {
        "schedules": [
            {
                "name": "ml-primary",
                "time_zone": "Europe/Berlin",
                "rotation": {
                    "type": "daily",
                    "handoff": "09:00",
                    "start": "2026-01-01",
                    "participants": ["ann", "bob"],
                },
            },
            {
                "name": "ml-secondary",
                "time_zone": "America/New_York",
                "rotation": {
                    "type": "weekly",
                    "handoff": "Mon 09:00",
                    "participants": ["cat", "bob"],
                },
            },
        ]
    },
}
CONFIG = FirewatchConfig.model_validate(SCHEDULES)
# The FakeClock starts at 2026-01-15 14:30 UTC: 15:30 in Berlin, day 14 of ml-primary → ann.


async def test_who_is_on_call_and_an_override_over_the_api(db: Database, clock: FakeClock) -> None:
    async with api_client(db, clock, config=CONFIG) as (client, _):
        everyone = (await client.get("/api/v1/oncall")).json()
        assert [s["schedule"] for s in everyone] == ["ml-primary", "ml-secondary"]
        primary = everyone[0]
        assert primary["on_call"]["person"] == "ann"
        assert primary["on_call"]["end"] == "2026-01-16T08:00:00Z"
        assert primary["next"]["person"] == "bob"

        # a local time (no offset) in Berlin, just before the spring-forward handoff
        dst = await client.get("/api/v1/oncall/ml-primary", params={"at": "2026-03-29T08:59"})
        assert dst.status_code == 200, dst.text
        shift = dst.json()["on_call"]
        assert (shift["start"], shift["end"]) == ("2026-03-28T08:00:00Z", "2026-03-29T07:00:00Z")
        shifts = await client.get(
            "/api/v1/oncall/ml-primary/shifts", params={"from": "2026-03-28T12:00", "days": 2}
        )
        assert [s["person"] for s in shifts.json()] == ["ann", "bob", "ann"]

        added = await client.post(
            "/api/v1/oncall/ml-primary/overrides",
            json={
                "person": "cat",
                "starts_at": "2026-01-15T15:00:00Z",
                "ends_at": "2026-01-15T18:00:00+00:00",
                "reason": "ann at the dentist",
            },
        )
        assert added.status_code == 201, added.text
        override = added.json()
        assert override["state"] == "pending" and override["created_by"] == "tester"

        clock.advance(minutes=40)
        now = (await client.get("/api/v1/oncall/ml-primary")).json()
        assert now["on_call"] == {
            "schedule": "ml-primary",
            "person": "cat",
            "start": "2026-01-15T15:00:00Z",
            "end": "2026-01-15T18:00:00Z",
            "source": "override",
            "override_id": override["id"],
        }
        assert (now["next"]["person"], now["next"]["source"]) == ("ann", "rotation")
        listed = (await client.get("/api/v1/oncall/ml-primary/overrides")).json()
        assert [(o["id"], o["state"]) for o in listed] == [(override["id"], "active")]

        removed = await client.delete(f"/api/v1/oncall/ml-primary/overrides/{override['id']}")
        assert removed.status_code == 200, removed.text
        back = (await client.get("/api/v1/oncall/ml-primary")).json()
        assert back["on_call"]["person"] == "ann"
        again = await client.delete(f"/api/v1/oncall/ml-primary/overrides/{override['id']}")
        assert again.status_code == 404 and again.json()["error"]["code"] == "unknown_override"


async def test_bad_on_call_requests_are_clear_4xx(db: Database, clock: FakeClock) -> None:
    override = {
        "person": "cat",
        "starts_at": "2026-01-15T15:00:00Z",
        "ends_at": "2026-01-15T18:00:00Z",
    }
    async with api_client(db, clock, config=CONFIG) as (client, _):
        unknown = await client.get("/api/v1/oncall/nope")
        assert unknown.status_code == 404
        error = unknown.json()["error"]
        assert error["code"] == "unknown_schedule"
        assert error["message"] == (
            "no on-call schedule named 'nope' (configured: ml-primary, ml-secondary)"
        )
        posted = await client.post("/api/v1/oncall/nope/overrides", json=override)
        assert posted.status_code == 404

        when = await client.get("/api/v1/oncall/ml-primary", params={"at": "yesterday"})
        assert when.status_code == 422 and when.json()["error"]["code"] == "invalid_time"

        cases = [
            (
                {**override, "ends_at": "2026-01-15T15:00:00Z"},
                "ends_at: Value error, must be after",
            ),
            ({**override, "person": "zed"}, "no person with handle 'zed'"),
            ({**override, "ends_at": "2026-01-15T18:00:00"}, "ends_at"),  # no time zone
            (
                {**override, "starts_at": "2026-01-14T10:00:00Z", "ends_at": "2026-01-14T12:00Z"},
                "is in the past",
            ),
        ]
        for body, message in cases:
            bad = await client.post("/api/v1/oncall/ml-primary/overrides", json=body)
            assert bad.status_code == 422, bad.text
            assert message in bad.json()["error"]["message"]

        reader = {"Authorization": f"Bearer {make_token(db, clock, Scope.READ, name='viewer')}"}
        assert (await client.get("/api/v1/oncall", headers=reader)).status_code == 200
        forbidden = await client.post(
            "/api/v1/oncall/ml-primary/overrides", json=override, headers=reader
        )
        assert forbidden.status_code == 403


def test_targets_resolve_to_people_with_overrides_applied(db: Database, clock: FakeClock) -> None:
    now = clock.now()
    with db.write_session() as session:
        for person in CONFIG.people:
            people_service.upsert_person(session, person=person, now=now)
        people_service.upsert_person(session, person=PersonIn(handle="dan"), now=now)
        oncall_service.add_override(
            session,
            config=CONFIG.oncall,
            schedule="ml-secondary",
            override=OverrideIn(person="dan", ends_at=now.replace(hour=20)),
            created_by="alice",
            now=now,
        )
    with db.read_session() as session:

        def resolve(target: Target) -> list[str]:
            rows = oncall_service.resolve_target(
                session, config=CONFIG.oncall, target=target, at=now
            )
            return [row.handle for row in rows]

        assert resolve(Target(schedule="ml-primary")) == ["ann"]
        assert resolve(Target(schedule="ml-secondary")) == ["dan"]  # the override, from the table
        assert resolve(Target(person="bob")) == ["bob"]
        with pytest.raises(NotFound, match="no on-call schedule named 'nope'"):
            resolve(Target(schedule="nope"))


def test_the_overrides_migration_is_reversible(sqlite_db: Database) -> None:
    migrate.downgrade(sqlite_db, "0003")
    migrate.upgrade(sqlite_db)
    with sqlite_db.read_session() as session:
        assert oncall_service.list_overrides(session, now=FakeClock().now()) == []


# --- the CLI --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cli:
    cwd: Path
    env: dict[str, str]

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "firewatch", *args],
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=60,
            check=False,
        )

    def ok(self, *args: str) -> str:
        done = self(*args)
        assert done.returncode == 0, f"{args} exited {done.returncode}: {done.stderr}"
        return done.stdout

    def fails(self, *args: str) -> str:
        """The one-line error on stderr of a command that must fail."""
        done = self(*args)
        assert done.returncode == 1, f"{args}: exit {done.returncode}\n{done.stderr}"
        assert done.stdout == "" and "Traceback" not in done.stderr
        return " ".join(done.stderr.split())


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    scrubbed = ("COLUMNS", "LINES", "FORCE_COLOR", "NO_COLOR", "FIREWATCH_CONFIG")
    env = {k: v for k, v in os.environ.items() if k not in scrubbed}
    env["FIREWATCH_DATABASE_URL"] = f"sqlite:///{tmp_path}/fw.db"
    env["FIREWATCH_USER"] = "alice"
    (tmp_path / "firewatch.yaml").write_text(json.dumps(SCHEDULES))  # JSON is YAML
    return Cli(cwd=tmp_path, env=env)


def test_oncall_cli_who_schedule_and_overrides(cli: Cli) -> None:
    who = cli.ok("oncall", "who", "ml-primary", "--at", "2030-03-30T10:00", "--json")
    [status] = json.loads(who)
    assert status["on_call"]["person"] == "bob"  # day 1549 since 2026-01-01
    assert status["on_call"]["start"] == "2030-03-30T08:00:00Z"  # 09:00 CET
    assert status["on_call"]["end"] == "2030-03-31T07:00:00Z"  # 09:00 CEST: a 23-hour shift

    shifts = cli.ok("oncall", "schedule", "ml-primary", "--from", "2030-03-30T10:00", "--days", "2")
    assert "Sun 2030-03-31 09:00 CEST" in shifts and "23h" in shifts

    added = cli.ok(
        "oncall", "override", "add", "ml-primary", "--person", "cat",
        "--from", "2030-03-30T12:00", "--for", "2h", "--reason", "swap",
    )  # fmt: skip
    assert "Added override 1: cat is on call for ml-primary" in added
    assert "from Sat 2030-03-30 12:00 CET until Sat 2030-03-30 14:00 CET" in " ".join(added.split())
    table = cli.ok("oncall", "who", "--at", "2030-03-30T13:00")
    assert "cat (override 1)" in table and "ml-secondary" in table
    [listed] = json.loads(cli.ok("oncall", "override", "list", "--json"))
    assert (listed["person"], listed["created_by"], listed["state"]) == ("cat", "alice", "pending")
    assert "Removed override 1" in cli.ok("oncall", "override", "remove", "1")


def test_oncall_cli_bad_input_is_one_clear_line(cli: Cli, tmp_path: Path) -> None:
    assert cli.fails("oncall", "who", "nope") == (
        "error: no on-call schedule named 'nope' (configured: ml-primary, ml-secondary)"
    )
    malformed = cli.fails("oncall", "who", "ml-primary", "--at", "29/03/2030")
    assert malformed.startswith("error: '29/03/2030' is not a time: expected ISO 8601")
    backwards = cli.fails(
        "oncall", "override", "add", "ml-primary", "--person", "cat",
        "--from", "2030-03-30T12:00", "--to", "2030-03-30T11:00",
    )  # fmt: skip
    assert "--to (Sat 2030-03-30 11:00 CET) must be after --from" in backwards

    broken = dict(SCHEDULES, people=[{"handle": "ann"}])
    (tmp_path / "broken.yaml").write_text(json.dumps(broken))
    startup = cli.fails("--config", "broken.yaml", "oncall", "who")
    assert startup.startswith("error: broken.yaml: invalid configuration")
    assert "oncall.schedules.0.rotation.participants: 'bob' is not a declared person" in startup
