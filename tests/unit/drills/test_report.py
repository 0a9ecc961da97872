"""The game-day report: tables of measured times against the SLA and the targets, each incident's
timeline, and a PNG chart beside the Markdown, linked from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from drill_incidents import FAULT, GOOD, incident

from firewatch.drills.measure import Observation, judge
from firewatch.drills.report import ReportContext, render_report, write_report
from firewatch.drills.scenarios import SCENARIOS
from firewatch.drills.schemas import DrillRunOut

CONTEXT = ReportContext(
    "http://127.0.0.1:8080", "cancer-detector", datetime(2026, 3, 2, tzinfo=UTC)
)


def _run(run_id: int, scenario: str, observation: Observation) -> DrillRunOut:
    verdict = judge(observation)
    return DrillRunOut(
        id=run_id,
        scenario=scenario,
        model="cancer-detector",
        trigger="cli",
        status="finished",
        actor="demo-admin",
        game_day="abc",
        started_at=FAULT,
        deadline_at=FAULT + timedelta(minutes=5),
        finished_at=FAULT + timedelta(minutes=1),
        **{k: v for k, v in verdict.finish_body().items() if k != "outcome"},
        outcome=verdict.outcome.value,
    )


def _runs() -> list[DrillRunOut]:
    passed = Observation(SCENARIOS["model-down"], FAULT, incident(GOOD))
    passed.did("acknowledged", FAULT + timedelta(seconds=2.8))
    failed = Observation(SCENARIOS["error-spike"], FAULT, None)
    return [_run(1, "model-down", passed), _run(2, "error-spike", failed)]


def test_the_report_has_the_tables_the_timelines_and_the_chart_link() -> None:
    text = render_report(_runs(), CONTEXT, "drills.png")
    assert text.startswith("# Drills: game day report")
    assert "**Result: 1 of 2 scenarios passed.**" in text
    assert "](drills.png)" in text
    assert "| model-down | model down detected < 5 s | 2.0 s after the fault | yes |" in text
    row = next(line for line in text.splitlines() if line.startswith("| model-down | INC-"))
    assert "| 2.0 | 2.3 | 2.8 | 9.0 | 20.0 |" in row
    assert "met: 0.8 s of 5 min" in row and "**PASS**" in row
    assert "no incident opened within 180s of the fault" in text
    assert "acknowledged at +2.8s" in text
    assert "| 3.2 | action_succeeded | action_succeeded | firewatch |" in text


def test_write_report_puts_a_png_beside_the_markdown(tmp_path: Path) -> None:
    report, chart = write_report(_runs(), CONTEXT, tmp_path / "docs" / "drills.md")
    assert chart == tmp_path / "docs" / "drills.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 5000
    assert "](drills.png)" in report.read_text()
