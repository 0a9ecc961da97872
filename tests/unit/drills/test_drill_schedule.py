"""Scheduled drills: cron expressions checked when the config loads (clear errors naming the
field), next due times in the schedule's time zone, and the durable job per schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from firewatch.clock import FakeClock
from firewatch.config import FirewatchConfig, load_config
from firewatch.drills.schedule import SCHEDULED_JOB, DrillScheduler, target_from_config
from firewatch.drills.settings import next_due
from firewatch.errors import ConfigError
from firewatch.store.db import Database
from firewatch.store.jobs import JobRow, JobStatus
from firewatch.store.runner import JobKind, JobRunner
from firewatch.store.writer import Writer

MODELS = "models:\n  - {name: iris, health_url: 'http://127.0.0.1:8081/health'}\n"


def _config(tmp_path: Path, text: str) -> FirewatchConfig:
    path = tmp_path / "firewatch.yaml"
    path.write_text(MODELS + text)
    return load_config(path)


@pytest.mark.parametrize(
    ("drills", "message"),
    [
        ("{schedule: [{cron: '61 * * * *'}]}", "drills.schedule.0.cron: not a valid cron"),
        ("{schedule: [{cron: '0 10 * *'}]}", "expected five fields"),
        ("{schedule: [{cron: '0 10 * * MON', scenario: fire}]}", "unknown drill scenario 'fire'"),
        ("{schedule: [{cron: '@daily', time_zone: Mars/Olympus}]}", "unknown time zone"),
        ("{target: {model: nope}}", "drills.target.model: no model 'nope'"),
    ],
)
def test_bad_drill_config_is_refused_with_the_field(
    tmp_path: Path, drills: str, message: str
) -> None:
    with pytest.raises(ConfigError, match="invalid configuration") as raised:
        _config(tmp_path, f"drills: {drills}\n")
    assert message in raised.value.message and str(tmp_path) in raised.value.message


def test_next_due_reads_the_cron_in_its_time_zone() -> None:
    monday_ten = next_due("0 10 * * MON", "UTC", datetime(2026, 11, 27, 12, tzinfo=UTC))
    assert monday_ten == datetime(2026, 11, 30, 10, tzinfo=UTC)
    # 10:00 in Berlin is 09:00 UTC in winter and 08:00 UTC in summer.
    winter = next_due("0 10 * * *", "Europe/Berlin", datetime(2026, 1, 5, tzinfo=UTC))
    summer = next_due("0 10 * * *", "Europe/Berlin", datetime(2026, 7, 5, tzinfo=UTC))
    assert (winter.hour, summer.hour) == (9, 8)


def test_the_target_comes_from_options_then_config(tmp_path: Path) -> None:
    config = _config(tmp_path, "server: {host: 0.0.0.0, port: 9000}\n")
    target = target_from_config(config, token="t")
    assert (target.api_url, target.model, target.model_url) == (
        "http://127.0.0.1:9000",
        "iris",
        "http://127.0.0.1:8081",
    )
    given = target_from_config(config, token="t", model_url="http://m:1/", api_url="http://a:2")
    assert (given.model_url, given.api_url) == ("http://m:1", "http://a:2")
    with pytest.raises(ConfigError, match="which model"):
        target_from_config(FirewatchConfig(), token="t")


async def test_each_schedule_keeps_one_job_for_its_next_run(
    tmp_path: Path, sqlite_db: Database
) -> None:
    config = _config(
        tmp_path,
        "drills:\n  schedule: [{cron: '0 10 * * MON', scenario: model-down}]\n  max_lateness: 1h\n",
    )
    clock = FakeClock(datetime(2026, 11, 27, 12, tzinfo=UTC))  # a Friday
    writer = Writer(sqlite_db)
    writer.start()
    try:
        async with httpx.AsyncClient() as client:
            scheduler = DrillScheduler(config, writer, clock, client)
            await writer.run(scheduler.enqueue_all)
            await writer.run(scheduler.enqueue_all)  # a restart adds nothing
            assert _jobs(sqlite_db) == [(datetime(2026, 11, 30, 10, tzinfo=UTC), "pending")]
            # The server was down all Monday: the run found two hours late is skipped, and the
            # next Monday's is queued.
            clock.set(datetime(2026, 11, 30, 12, tzinfo=UTC))
            runner = JobRunner(
                db=sqlite_db,
                writer=writer,
                clock=clock,
                kinds={SCHEDULED_JOB: JobKind(scheduler.run_job)},
            )
            assert await runner.run_once() == 1
            assert _jobs(sqlite_db) == [
                (datetime(2026, 11, 30, 10, tzinfo=UTC), JobStatus.DONE.value),
                (datetime(2026, 12, 7, 10, tzinfo=UTC), JobStatus.PENDING.value),
            ]
            # A schedule removed from the config: its queued job runs nothing.
            scheduler.config = _config(tmp_path, "")
            clock.advance(timedelta(days=7))
            assert await runner.run_once() == 1
            assert len(_jobs(sqlite_db)) == 2
    finally:
        writer.stop()


def _jobs(db: Database) -> list[tuple[datetime, str]]:
    with db.read_session() as s:
        rows = s.scalars(select(JobRow).where(JobRow.kind == SCHEDULED_JOB).order_by(JobRow.id))
        return [(r.due_at, r.status) for r in rows]
