"""`firewatch drill` from a shell: clear one-line errors (no traceback) for what a person gets
wrong, the scenario list, the history table and the schedule with next due times."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from firewatch.clock import FakeClock
from firewatch.drills import service as drill_service
from firewatch.drills.schemas import DrillFinishIn, DrillOutcome, DrillStartIn
from firewatch.store import migrate
from firewatch.store.db import Database
from support.servers import free_port


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FIREWATCH_")},
        "FIREWATCH_DATABASE_URL": f"sqlite:///{tmp_path}/fw.db",
        "COLUMNS": "250",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "firewatch", *args],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_mistakes_get_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "fw.yaml"
    config.write_text(
        "models:\n  - {name: iris, health_url: 'http://127.0.0.1:9/health'}\n"
        f"server: {{port: {free_port()}}}\n"
    )
    cases = [
        (("drill", "run", "fire"), {}, "no drill scenario 'fire'"),
        (("drill", "run", "model-down"), {}, "give --token or set FIREWATCH_API_TOKEN"),
        (
            ("--config", str(config), "drill", "run", "model-down"),
            {"FIREWATCH_API_TOKEN": "fw_x"},
            "cannot reach Firewatch at http://127.0.0.1:",
        ),
        (("drill", "history", "--scenario", "fire"), {}, "unknown scenario 'fire'"),
        (("drill", "report"), {}, "no game day yet: run `firewatch drill run all`"),
    ]
    for args, env, message in cases:
        result = _cli(tmp_path, *args, **env)
        assert result.returncode != 0, args
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_list_history_and_schedule(tmp_path: Path) -> None:
    listed = _cli(tmp_path, "drill", "list")
    assert listed.returncode == 0, listed.stderr
    assert "model-down" in listed.stdout and "data-drift" in listed.stdout
    assert "No drills yet" in _cli(tmp_path, "drill", "history").stdout

    db, clock = Database(f"sqlite:///{tmp_path}/fw.db"), FakeClock()
    migrate.upgrade(db)
    with db.write_session() as s:
        start = DrillStartIn(scenario="latency", model="iris", time_limit_s=60)
        row = drill_service.start_drill(s, drill=start, actor="me", now=clock.now())
        result = DrillFinishIn(
            outcome=DrillOutcome.FAIL,
            incident="INC-2026-009",
            times={"detect": 6.5, "resolve": 16.7},
            failures=["timeline: mitigated missing"],
        )
        drill_service.finish_drill(s, run_id=row.id, result=result, now=clock.now())
    db.dispose()
    history = _cli(tmp_path, "drill", "history")
    assert history.returncode == 0, history.stderr
    for text in ("latency", "FAIL", "INC-2026-009", "6.5", "16.7", "mitigated missing"):
        assert text in history.stdout, history.stdout

    config = tmp_path / "scheduled.yaml"
    config.write_text(
        "models:\n  - {name: iris, health_url: 'http://127.0.0.1:9/health'}\n"
        "drills:\n  schedule: [{cron: '0 10 * * MON', scenario: all}]\n"
    )
    schedule = _cli(tmp_path, "--config", str(config), "drill", "schedule")
    assert schedule.returncode == 0, schedule.stderr
    assert "At 10:00 on Monday" in schedule.stdout and "all" in schedule.stdout
