"""The ``firewatch`` CLI as a user runs it: real subprocesses, a fresh SQLite file per test.

Every invocation is ``python -m firewatch ...`` in the test's own directory (so no
``./firewatch.yaml`` is picked up), with stdin closed and no ``COLUMNS``, so Rich renders as it
does when output goes to a pipe or a log file (80 columns, no colour). The assertions are what a
person or a script would see: exit codes, stdout, one readable ``error:`` on stderr and never a
traceback. Invocations cost about a second each, so related checks share a test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

# Variables that would change how the CLI renders or which config / user it picks.
_SCRUBBED = (
    "COLUMNS",
    "LINES",
    "FORCE_COLOR",
    "NO_COLOR",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "FIREWATCH_CONFIG",
    "FIREWATCH_USER",
    "FIREWATCH_DATABASE_URL",
)

LONG_NOTE = (
    "Checked the feature pipeline: the upstream job wrote nulls for two columns after the "
    "schema change, so the model saw zeros"
)


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def error(self) -> str:
        """stderr with Rich's line wrapping undone (whitespace runs become one space)."""
        return " ".join(self.stderr.split())

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass(frozen=True)
class Firewatch:
    cwd: Path
    env: dict[str, str]

    def __call__(self, *args: str) -> Result:
        done = subprocess.run(
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
        return Result(args, done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.returncode == 0, f"{args} exited {result.returncode}: {result.stderr}"
        assert "Traceback" not in result.stderr
        return result

    def fails(self, *args: str, code: int = 1) -> Result:
        result = self(*args)
        assert result.returncode == code, (
            f"{args}: expected exit {code}, got {result.returncode}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}"
        )
        assert "Traceback" not in result.stderr, result.stderr
        assert result.stdout == "", "errors go to stderr only"
        return result


@pytest.fixture
def fw(tmp_path: Path) -> Firewatch:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env["FIREWATCH_DATABASE_URL"] = f"sqlite:///{tmp_path}/fw.db"
    env["FIREWATCH_USER"] = "alice"
    return Firewatch(cwd=tmp_path, env=env)


def this_year() -> int:
    return datetime.now(UTC).year


def test_help_lists_every_noun(fw: Firewatch) -> None:
    shown = fw.ok("--help").stdout

    for noun in ("incident", "model", "token", "db", "serve"):
        assert re.search(rf"^\W*{noun}\s", shown, re.MULTILINE), f"{noun} missing from --help"


def test_token_create_prints_only_the_token_and_rejects_unknown_scopes(fw: Firewatch) -> None:
    created = fw.ok("token", "create", "--scope", "write", "--name", "ci")
    lines = created.stdout.splitlines()
    assert len(lines) == 1, created.stdout  # scripts do TOKEN=$(firewatch token create ...)
    token = lines[0]
    assert token.startswith("fw_") and token == token.strip() and len(token) > 20
    assert created.stderr == ""

    listed = fw.ok("token", "list").stdout
    assert re.search(r"\bci\b.*\bwrite\b", listed)
    assert token not in listed  # only shown once, at creation

    bad = fw.fails("token", "create", "--scope", "nope")
    assert bad.error.startswith("error: ")
    assert "'nope'" in bad.error and "read, write, admin or ingest" in bad.error


def test_declare_work_and_resolve_an_incident_then_write_its_postmortem(
    fw: Firewatch, tmp_path: Path
) -> None:
    ref = f"INC-{this_year()}-001"
    declared = fw.ok(
        "incident", "declare", "Accuracy dropped", "--severity", "HIGH", "--model", "iris"
    )
    assert ref in declared.stdout and "SEV2" in declared.stdout

    listed = fw.ok("incident", "list").stdout
    row = next(line for line in listed.splitlines() if ref in line)
    assert "SEV2" in row and "triggered" in row and "iris" in row

    assert "acknowledged" in fw.ok("incident", "ack", ref).stdout
    fw.ok("incident", "note", ref, LONG_NOTE)
    assert (
        "resolved"
        in fw.ok("incident", "resolve", ref, "--resolution", "Backfilled the two columns").stdout
    )

    shown = fw.ok("incident", "show", ref, "--json").json()  # long text must not break the JSON
    assert shown["id"] == ref
    assert shown["title"] == "Accuracy dropped"
    assert shown["severity"] == "SEV2"
    assert shown["status"] == "resolved"
    assert shown["model"] == "iris"
    assert shown["resolution"] == "Backfilled the two columns"
    assert shown["acknowledged_at"] is not None and shown["resolved_at"] is not None
    assert isinstance(shown["resolution_time_minutes"], int | float)
    for field in ("timestamp", "model_version", "assigned_to", "description", "root_cause", "sla"):
        assert field in shown
    assert [e["kind"] for e in shown["timeline"]] == [
        "declared",
        "acknowledged",
        "note",
        "resolved",
    ]
    assert shown["timeline"][2]["event"] == LONG_NOTE
    assert {e["actor"] for e in shown["timeline"]} == {"alice"}

    written = fw.ok("incident", "postmortem", ref, "-o", "pm.md")
    assert "pm.md" in written.stdout
    document = (tmp_path / "pm.md").read_text(encoding="utf-8")
    assert document.startswith(f"# Post-mortem: {ref}")
    assert "## Timeline" in document
    for question in (
        "What happened?",
        "Why did it happen?",
        "What could prevent it?",
        "What will we do differently?",
    ):
        assert question in document
    assert LONG_NOTE in document and "Backfilled the two columns" in document


def test_incident_mistakes_are_explained_and_change_nothing(fw: Firewatch) -> None:
    ref = f"INC-{this_year()}-001"
    fw.ok("incident", "declare", "Latency up", "--severity", "SEV2")

    closed = fw.fails("incident", "transition", ref, "closed")
    assert f"{ref} is triggered and cannot move to closed" in closed.error
    assert "acknowledged, investigating, mitigated, resolved" in closed.error

    lowered = fw.fails("incident", "severity", ref, "SEV4")
    assert "from SEV2 to SEV4 needs a reason" in lowered.error

    missing = fw.fails("incident", "show", f"INC-{this_year()}-999")
    assert missing.error == f"error: no incident INC-{this_year()}-999"

    bad_severity = fw("incident", "declare", "Broken", "--severity", "P0")
    assert bad_severity.returncode != 0
    assert "Traceback" not in bad_severity.stderr
    assert "unknown severity 'P0'" in bad_severity.stderr
    assert "SEV1..SEV4" in bad_severity.stderr

    after = fw.ok("incident", "list", "--all", "--json").json()
    assert after["total"] == 1  # the P0 declaration created nothing
    [item] = after["items"]
    assert (item["id"], item["status"], item["severity"]) == (ref, "triggered", "SEV2")


def test_a_long_error_stays_on_one_line_when_stderr_is_piped(fw: Firewatch) -> None:
    bad = fw.fails("incident", "list", "--status", "bogus")
    assert "unknown status 'bogus'" in bad.error and "closed" in bad.error
    assert bad.stderr.count("\n") == 1, bad.stderr  # one line, for logs and `grep error:`


def test_model_registry_register_deploy_rollback_and_history(fw: Firewatch) -> None:
    fw.ok("model", "register", "iris", "v1", "--meta", "algorithm=logistic_regression")
    fw.ok("model", "register", "iris", "v2")
    assert "— → v1" in fw.ok("model", "deploy", "iris", "v1").stdout
    assert "v1 → v2" in fw.ok("model", "deploy", "iris", "v2").stdout

    unknown = fw.fails("model", "deploy", "iris", "v9")
    assert "'iris' has no version 'v9'" in unknown.error

    no_good = fw.fails("model", "rollback", "iris")
    assert "no known good production version to roll back to" in no_good.error

    again = fw.fails("model", "register", "iris", "v1")
    assert "'iris' already has a version 'v1'" in again.error

    assert "v2 → v1" in fw.ok("model", "rollback", "iris", "--to", "v1").stdout

    history = fw.ok("model", "history", "iris", "--json").json()
    assert [(d["kind"], d["previous_version"], d["version"]) for d in history] == [
        ("rollback", "v2", "v1"),
        ("deploy", "v1", "v2"),
        ("deploy", None, "v1"),
    ]
    assert {d["actor"] for d in history} == {"alice"}
    assert history[0]["ended_at"] is None and all(d["ended_at"] for d in history[1:])

    [iris] = fw.ok("model", "list", "--json").json()
    assert iris["name"] == "iris"
    assert iris["aliases"] == {"production": "v1"}
    assert iris["production"]["version"] == "v1"
    assert {v["version"]: v["metadata"] for v in iris["versions"]} == {
        "v1": {"algorithm": "logistic_regression"},
        "v2": {},
    }


def test_a_broken_config_is_reported_precisely_and_nothing_is_written(
    fw: Firewatch, tmp_path: Path
) -> None:
    (tmp_path / "bad-probe.yaml").write_text("models: [{name: iris, probe: {interval: soon}}]\n")
    (tmp_path / "not-yaml.yaml").write_text("models: [\n")
    (tmp_path / "bad-channel.yaml").write_text("notify:\n  channels_for:\n    page: [pager]\n")
    declare = ("incident", "declare", "Model down", "--severity", "SEV1")

    probe = fw.fails("--config", "bad-probe.yaml", *declare)
    assert probe.error.startswith("error: bad-probe.yaml: invalid configuration")
    assert "models.0.probe.interval:" in probe.error
    assert "expected a duration such as '30s', '5m', '2h' or '1d'" in probe.error
    assert "'soon'" in probe.error

    syntax = fw.fails("--config", "not-yaml.yaml", *declare)
    assert syntax.error.startswith("error: not-yaml.yaml:")
    assert "line 2" in syntax.error and "not valid YAML" in syntax.error

    channel = fw.fails("--config", "bad-channel.yaml", *declare)
    assert channel.error.startswith("error: bad-channel.yaml: invalid configuration")
    assert "notify.channels_for.page names channel 'pager'" in channel.error
    assert "not defined under channels (defined: console)" in channel.error

    assert fw.ok("incident", "list", "--all", "--json").json()["total"] == 0


def test_db_upgrade_is_idempotent_and_current_reports_both_versions(fw: Firewatch) -> None:
    first = fw.ok("db", "upgrade").stdout
    assert "schema empty →" in first
    second = fw.ok("db", "upgrade").stdout
    assert "already at" in second

    current = fw.ok("db", "current").stdout
    match = re.search(r"database: (\S+); code: (\S+)", current)
    assert match is not None, current
    assert match.group(1) == match.group(2) != "empty"
    assert second.rstrip().endswith(match.group(1))


def test_status_updates_escalation_and_failed_notifications(fw: Firewatch) -> None:
    ref = f"INC-{this_year()}-001"
    fw.ok("incident", "declare", "iris is down", "--severity", "SEV1", "--model", "iris")
    posted = fw.ok("incident", "update", ref, "Rolled back to v2; error rate falling")
    assert ref in posted.stdout
    fw.ok("incident", "escalate", ref, "rollback did not help")
    shown = fw.ok("incident", "show", ref).stdout
    assert "Rolled back to v2; error rate falling" in shown
    assert "rollback did not help" in shown

    assert "No failed notifications" in fw.ok("notify", "failed").stdout
    missing = fw.fails("notify", "retry", "12345")
    assert "no failed notification 12345" in missing.error

    fw.ok("incident", "resolve", ref, "--resolution", "rolled back")
    late = fw.fails("incident", "update", ref, "all good")
    assert "resolved" in late.error and "note instead" in late.error


def test_runbooks_are_listed_and_shown_as_markdown(fw: Firewatch) -> None:
    listed = fw.ok("runbook", "list").stdout
    assert "model-unavailable" in listed and "ModelUnavailable" in listed
    shown = fw.ok("runbook", "show", "model-unavailable", "--markdown").stdout
    assert shown.startswith("# Model Service Unavailable\n")
    assert (
        "6. **Roll back to the last known good version** — action, automatic for SEV1, SEV2; "
        "**needs approval** otherwise (rollback)"
    ) in shown
    assert "4. **Check memory/CPU of the service** — manual, **a person** ticks it" in shown
    assert "only when: step `verify-alert` passed; step `recent-deploy` passed" in shown
    assert "a pass marks the incident **mitigated**" in shown
    unknown = fw.fails("runbook", "show", "nope")
    assert "no runbook named 'nope' (known: accuracy-degradation, data-drift" in unknown.error


def test_runbook_dry_run_and_decisions_on_the_command_line(fw: Firewatch) -> None:
    planned = fw.ok("runbook", "run", "data-drift", "--dry-run", "--severity", "SEV3").stdout
    assert "Dry run of data-drift" in planned and "nothing was changed" in planned
    assert "Retrain the model with new data" in planned
    unknown_model = fw.fails("runbook", "run", "data-drift", "--dry-run", "--model", "nope")
    assert "no model 'nope' in the configuration" in unknown_model.error
    needs_incident = fw.fails("runbook", "run", "data-drift")
    assert "--incident" in needs_incident.error

    ref = fw.ok("incident", "declare", "Drift", "--severity", "SEV3").stdout.split()[1]
    nothing = fw.fails("runbook", "approve", ref)
    assert f"nothing on {ref} waits for a proposed action" in nothing.error
    queued = fw.ok("runbook", "run", "data-drift", "--incident", ref).stdout
    assert f"Queued data-drift on {ref}" in queued
    twice = fw.fails("runbook", "run", "data-drift", "--incident", ref)
    assert "already ran (or is queued)" in twice.error
    assert "No runbook has run" in fw.ok("runbook", "status", ref).stdout
