"""``firewatch drift check`` and ``firewatch drift profile`` as a user runs them: real
subprocesses on small CSV and Parquet files generated with numpy in the test's directory.

As in ``test_cli.py``: stdin closed, no ``COLUMNS`` (Rich renders 80 columns, no colour, as in a
pipe or a log), and the assertions are what a person or a script sees — exit codes (0 no dataset
drift, 1 dataset drift, 2 bad input), stdout, one ``error:`` line on stderr, never a traceback.
Each invocation costs a couple of seconds (pyarrow and scipy load), so related checks share a
test and the bad-input cases run a few at a time.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

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


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def error(self) -> str:
        """stderr with whitespace runs (Rich's line wrapping) made one space."""
        return " ".join(self.stderr.split())

    @property
    def text(self) -> str:
        return " ".join(self.stdout.split())

    def json(self) -> Any:
        return json.loads(self.stdout)

    def row(self, column: str) -> str:
        """The table row of ``column`` (the first line that starts with its name)."""
        for line in self.stdout.splitlines():
            if line.startswith(f"{column} "):
                return line
        raise AssertionError(f"no row for {column!r} in:\n{self.stdout}")


@dataclass(frozen=True)
class Firewatch:
    cwd: Path
    env: dict[str, str]

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Result:
        done = subprocess.run(
            [sys.executable, "-m", "firewatch", *args],
            env={**self.env, **(env or {})},
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=90,
            check=False,
        )
        return Result(args, done.returncode, done.stdout, done.stderr)

    def run(self, *args: str, code: int, env: dict[str, str] | None = None) -> Result:
        result = self(*args, env=env)
        assert result.returncode == code, (
            f"{args}: expected exit {code}, got {result.returncode}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}"
        )
        assert "Traceback" not in result.stderr + result.stdout, result.stderr
        return result


@pytest.fixture
def fw(tmp_path: Path) -> Firewatch:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env["FIREWATCH_DATABASE_URL"] = f"sqlite:///{tmp_path}/fw.db"
    env["MPLCONFIGDIR"] = str(tmp_path / ".matplotlib")
    return Firewatch(cwd=tmp_path, env=env)


def frame(seed: int, rows: int, *, shift: float = 0.0) -> dict[str, Any]:
    """age (numerical, shifted by ``shift``), income (skewed), plan (3 categories), clicks."""
    rng = np.random.default_rng(seed)
    return {
        "age": rng.normal(40, 10, rows) + shift,
        "income": rng.lognormal(10, 0.5, rows),
        "plan": rng.choice(["free", "pro", "team"], rows, p=[0.6, 0.3, 0.1]),
        "clicks": rng.poisson(20, rows).astype(np.int64),
    }


def write(path: Path, data: dict[str, Any]) -> Path:
    table = pa.table(
        {
            name: values if isinstance(values, pa.Array) else pa.array(values)
            for name, values in data.items()
        }
    )
    if path.suffix == ".parquet":
        pq.write_table(table, path)
    else:
        pacsv.write_csv(table, path)
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A 3,000-row Parquet reference, a same-distribution CSV and one with ``age`` shifted."""
    return {
        "reference": write(tmp_path / "reference.parquet", frame(0, 3000)),
        "same": write(tmp_path / "same.csv", frame(1, 2000)),
        "shifted": write(tmp_path / "shifted.csv", frame(2, 2000, shift=8)),
    }


def test_no_drift_exits_0_and_a_shifted_column_is_flagged_and_exits_1(
    fw: Firewatch, files: dict[str, Path]
) -> None:
    same = fw.run("drift", "check", "reference.parquet", "same.csv", code=0)
    assert "Dataset drift: NO — 0 of 4 columns drifted (0%, threshold 50%)" in same.text
    for column in ("age", "income", "plan", "clicks"):
        assert re.search(r"\bok\s*$", same.row(column)), same.row(column)
    assert "DRIFT" not in same.stdout
    assert "Next steps:" in same.stdout and "No drift detected" in same.text
    assert same.stderr == ""  # no progress bar for small inputs, and not on a pipe anyway

    # One column of four drifted: below the default dataset threshold (50%), exit 0 …
    below = fw.run("drift", "check", "reference.parquet", "shifted.csv", code=0)
    assert re.search(r"\bwasserstein\b.*\bDRIFT\s*$", below.row("age")), below.row("age")
    assert below.stdout.splitlines()[3].startswith("age "), "drifted columns come first"
    assert "Dataset drift: NO — 1 of 4 columns drifted (25%, threshold 50%)" in below.text
    assert "below the dataset threshold" in below.text

    # … and dataset drift at 25%: exit 1, like diff.
    drifted = fw.run(
        "drift", "check", "reference.parquet", "shifted.csv", "--drift-share", "0.25", code=1
    )
    assert "Dataset drift: YES — 1 of 4 columns drifted (25%, threshold 25%)" in drifted.text
    assert "start with the largest shifts (age)" in drifted.text
    assert "--format html" in drifted.text  # the hint for plots

    # JSON: the same verdicts, clean on stdout, with timing.
    report = fw.run(
        "drift",
        "check",
        "reference.parquet",
        "shifted.csv",
        "-f",
        "json",
        "--drift-share",
        "0.25",
        code=1,
    ).json()
    assert report["dataset_drift"] is True and report["exact"] is True
    assert (report["drifted_columns"], report["tested_columns"]) == (1, 4)
    by_name = {c["column"]: c for c in report["columns"]}
    assert by_name["age"]["drifted"] is True
    assert by_name["age"]["result"]["test"] == "wasserstein"
    assert by_name["age"]["result"]["statistic"] > 0.5
    assert not any(by_name[c]["drifted"] for c in ("income", "plan", "clicks"))
    assert set(report["timing"]) == {"read_seconds", "check_seconds", "total_seconds"}
    assert report["reference"] == {"path": "reference.parquet", "kind": "data"}

    # Options reach the tests: --columns, --column-test and --threshold.
    small = fw.run(
        "drift",
        "check",
        "same.csv",
        "shifted.csv",
        "--columns",
        "age,plan",
        "--column-test",
        "plan=psi",
        "--threshold",
        "0.01",
        "-f",
        "json",
        code=1,
    ).json()
    assert [c["column"] for c in small["columns"]] == ["age", "plan"]
    age, plan = small["columns"]
    assert age["result"]["test"] == "wasserstein"  # 2,000 rows: more than 1,000
    assert plan["result"]["test"] == "psi" and plan["result"]["threshold"] == 0.01


def test_json_to_a_file_and_small_references_get_p_values(
    fw: Firewatch, files: dict[str, Path], tmp_path: Path
) -> None:
    write(tmp_path / "small.csv", frame(3, 400))
    share = ("--drift-share", "0.25")
    shown = fw.run(
        "drift", "check", "small.csv", "shifted.csv", "-o", "out.json", "-f", "json", *share, code=1
    )
    assert "Dataset drift: YES — 1 of 4 columns drifted" in shown.text
    assert "Wrote out.json" in shown.text
    report = json.loads((tmp_path / "out.json").read_text())
    tests = {c["column"]: c["result"]["test"] for c in report["columns"]}
    assert tests == {"age": "ks", "income": "ks", "plan": "chi_squared", "clicks": "ks"}
    assert [c["column"] for c in report["columns"] if c["drifted"]] == ["age"]

    table = fw.run("drift", "check", "small.csv", "shifted.csv", *share, code=1)
    row = table.row("age")
    assert re.search(r"\bks\b.*\bp < 0\.05\b.*\bDRIFT\s*$", row), row


def test_mismatched_and_all_null_columns_are_statuses_when_others_can_be_tested(
    fw: Firewatch, files: dict[str, Path], tmp_path: Path
) -> None:
    data = frame(4, 1500)
    data["plan"] = data.pop("plan")  # same columns, another order
    del data["income"]  # missing in current
    data["region"] = np.array(["eu"] * 1500)  # new in current
    data["clicks"] = pa.nulls(1500, pa.int64())  # every value missing
    write(tmp_path / "odd.csv", data)

    shown = fw.run("drift", "check", "reference.parquet", "odd.csv", code=0)
    assert "missing in current" in shown.row("income")
    assert "new in current" in shown.row("region")
    assert "all null in" in shown.row("clicks")
    assert "Dataset drift: NO — 0 of 2 columns drifted" in shown.text
    assert "3 more could not be tested" in shown.text
    assert "Schema mismatch (missing in current: income)" in shown.text

    report = fw.run("drift", "check", "reference.parquet", "odd.csv", "-f", "json", code=0).json()
    statuses = {c["column"]: c["status"] for c in report["columns"]}
    assert statuses == {
        "age": "tested",
        "income": "missing",
        "plan": "tested",
        "clicks": "all_null",
        "region": "new",
    }


def test_html_report_has_a_plot_per_tested_column_and_escapes_everything(
    fw: Firewatch, tmp_path: Path
) -> None:
    hostile = "<script>alert(1)</script>"
    rng = np.random.default_rng(5)
    reference = frame(0, 1500)
    reference[hostile] = rng.choice(["$5 & up", "<b>bold</b>", "plain"], 1500)
    current = frame(1, 1200, shift=6)
    current[hostile] = rng.choice(["$5 & up", "<b>bold</b>", "new $ one"], 1200)
    write(tmp_path / "ref.parquet", reference)
    write(tmp_path / "cur.parquet", current)

    shown = fw.run(
        "drift", "check", "ref.parquet", "cur.parquet", "-f", "html", "--drift-share", "0.4", code=1
    )
    assert "Wrote drift-report.html" in shown.text and "5 plots" in shown.text
    html = (tmp_path / "drift-report.html").read_text()
    assert html.startswith("<!doctype html>")
    assert html.count("<img ") == 5  # every tested column
    assert len(re.findall(r'src="data:image/png;base64,[A-Za-z0-9+/=]{200,}"', html)) == 5
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Dataset drift: YES" in html
    assert "http://" not in html and "https://" not in html  # self-contained
    # Drifted columns are plotted first.
    assert html.index('alt="Distribution of age') < html.index('alt="Distribution of income')

    fw.run(
        "drift",
        "check",
        "ref.parquet",
        "cur.parquet",
        "-f",
        "html",
        "-o",
        "r.html",
        "--columns",
        "plan",
        code=0,
    )
    assert (tmp_path / "r.html").read_text().count("<img ") == 1


def test_profile_round_trip(fw: Firewatch, files: dict[str, Path], tmp_path: Path) -> None:
    made = fw.run(
        "drift", "profile", "reference.parquet", "--output", "ref.json", "--bins", "200", code=0
    )
    assert "3,000 rows × 4 columns" in made.text and "ref.json" in made.text
    assert re.search(r"\(\d+ kB\)", made.text), made.text
    saved = json.loads((tmp_path / "ref.json").read_text())
    assert saved["format"] == "firewatch-profile/1" and saved["rows"] == 3000

    same = fw.run("drift", "check", "ref.json", "same.csv", "-f", "json", code=0).json()
    assert same["exact"] is False and same["tested_columns"] == 4
    assert same["reference"] == {"path": "ref.json", "kind": "profile"}

    shifted = fw.run("drift", "check", "ref.json", "shifted.csv", "--drift-share", "0.25", code=1)
    assert re.search(r"\bDRIFT\*?\s*$", shifted.row("age")), shifted.row("age")
    assert "Reference is a profile" in shifted.text

    fw.run(
        "drift", "check", "ref.json", "shifted.csv", "-f", "html", "--drift-share", "0.25", code=1
    )
    html = (tmp_path / "drift-report.html").read_text()
    assert html.count("<img ") == 4 and "estimated from the profile" in html


def test_large_inputs_show_progress_on_stderr_and_keep_json_clean(
    fw: Firewatch, tmp_path: Path
) -> None:
    rng = np.random.default_rng(6)
    rows = 200_000
    write(tmp_path / "big_ref.parquet", {"x": rng.normal(0, 1, rows), "y": rng.random(rows)})
    write(tmp_path / "big_cur.csv", {"x": rng.normal(1, 1, rows), "y": rng.random(rows)})

    # A terminal on stderr (TTY_COMPATIBLE): the progress bar is drawn there, then erased.
    result = fw.run(
        "drift",
        "check",
        "big_ref.parquet",
        "big_cur.csv",
        "-f",
        "json",
        code=1,
        env={"TTY_COMPATIBLE": "1"},
    )
    assert "Checking" in result.stderr
    report = result.json()  # stdout is only the JSON
    assert report["current_rows"] == rows
    assert [c["drifted"] for c in report["columns"]] == [True, False]

    made = fw.run(
        "drift", "profile", "big_ref.parquet", "-o", "big.json", code=0, env={"TTY_COMPATIBLE": "1"}
    )
    assert "Profiling" in made.stderr and "200,000 rows × 2 columns" in made.text


def _bad_inputs(tmp_path: Path) -> list[tuple[tuple[str, ...], str]]:
    """(arguments, what the error must say) for every kind of bad input."""
    write(tmp_path / "other.csv", {"p": np.arange(10.0), "q": np.arange(10.0)})
    write(tmp_path / "nulls.csv", {"age": pa.nulls(50, pa.float64()), "extra": np.ones(50)})
    (tmp_path / "header.csv").write_text("age,income,plan,clicks\n")
    (tmp_path / "zero.csv").write_text("")
    (tmp_path / "data.txt").write_text("age\n1\n")
    (tmp_path / "text.json").write_text("not json at all")
    (tmp_path / "foreign.json").write_text('{"format": "something-else"}')
    (tmp_path / "shape.json").write_text(
        '{"format": "firewatch-profile/1", "rows": 3, "columns": [1, 2]}'
    )
    (tmp_path / "folder").mkdir()
    check = ("drift", "check", "reference.parquet", "same.csv")
    return [
        (("drift", "check", "nope.parquet", "same.csv"), "nope.parquet: no such file"),
        (("drift", "check", "reference.parquet", "nope.csv"), "nope.csv: no such file"),
        (("drift", "check", "nope.json", "same.csv"), "nope.json: no such file"),
        (("drift", "check", "data.txt", "same.csv"), "data.txt: unknown file type"),
        (("drift", "check", "reference.parquet", "data.txt"), "data.txt: unknown file type"),
        (("drift", "check", "reference.parquet", "folder"), "folder: is a directory"),
        (("drift", "check", "text.json", "same.csv"), "text.json: not a profile"),
        (("drift", "check", "foreign.json", "same.csv"), "foreign.json: not a Firewatch profile"),
        (("drift", "check", "shape.json", "same.csv"), "shape.json: broken profile"),
        (("drift", "check", "reference.parquet", "other.csv"), "no columns in common"),
        (("drift", "check", "reference.parquet", "header.csv"), "header.csv: has no rows"),
        (("drift", "check", "reference.parquet", "zero.csv"), "zero.csv: cannot read it"),
        (("drift", "check", "header.csv", "same.csv"), "header.csv: has no rows"),
        (
            ("drift", "check", "reference.parquet", "nulls.csv"),
            "no column could be tested (age: all null in current)",
        ),
        ((*check, "--test", "nope"), "unknown drift test 'nope'"),
        ((*check, "--column-test", "age=nope"), "unknown drift test 'nope'"),
        ((*check, "--column-test", "nope=ks"), "--column-test: no column 'nope'"),
        ((*check, "--column-test", "age"), "--column-test expects COLUMN=TEST"),
        ((*check, "--columns", "age,nope"), "--columns: no column 'nope' in the reference"),
        ((*check, "--threshold", "0"), "--threshold must be a positive number"),
        ((*check, "--threshold", "2", "--test", "ks"), "--threshold 2 is out of range for ks"),
        (
            ("drift", "check", "other.csv", "other.csv", "--threshold", "2"),
            "--threshold 2 is out of range for ks",
        ),
        ((*check, "--drift-share", "1.5"), "--drift-share must be more than 0 and at most 1"),
        ((*check, "--format", "xml"), "'xml' is not one of"),
        ((*check, "-f", "html", "-o", "missing/dir/r.html"), "r.html: cannot write it"),
        (("drift", "profile", "reference.parquet", "-o", "p.txt"), "must end in .json"),
        (("drift", "profile", "header.csv", "-o", "p.json"), "header.csv: has no rows"),
        (("drift", "profile", "nope.csv", "-o", "p.json"), "nope.csv: no such file"),
        (("drift", "profile", "reference.parquet", "-o", "p.json", "--bins", "1"), "--bins"),
    ]


def test_every_bad_input_exits_2_with_one_clear_line(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In this process (a subprocess each would cost a minute): the same commands, parsing and
    error handling as ``python -m firewatch``; the test below checks a few for real."""
    from typer.testing import CliRunner

    from firewatch.cli.main import app

    monkeypatch.chdir(tmp_path)
    cases = _bad_inputs(tmp_path)
    runner = CliRunner()
    problems = []
    for args, expected in cases:
        result = runner.invoke(app, list(args))
        error = " ".join(result.stderr.split())
        wrong = []
        if result.exit_code != 2:
            wrong.append(f"exit {result.exit_code}")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            wrong.append(f"an exception: {result.exception!r}")
        if expected not in error:
            wrong.append(f"no {expected!r}")
        if result.stdout:
            wrong.append(f"output on stdout: {result.stdout!r}")
        # Our own errors are one line (typer's usage errors are its own box).
        if (
            "--format" not in args
            and "--bins" not in args
            and (not error.startswith("error: ") or len(result.stderr.strip().splitlines()) != 1)
        ):
            wrong.append("not one 'error:' line")
        if wrong:
            problems.append(f"{' '.join(args)}: {', '.join(wrong)}\n  stderr: {result.stderr}")
    assert not problems, "\n".join(problems)
    assert not (tmp_path / "p.json").exists() and not (tmp_path / "p.txt").exists()


def test_bad_input_exits_2_from_a_real_process(
    fw: Firewatch, files: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / "broken.json").write_text('{"format": "firewatch-profile/1", "columns": {}}')
    for args, expected in (
        (("drift", "check", "nope.csv", "same.csv"), "error: nope.csv: no such file"),
        (("drift", "check", "broken.json", "same.csv"), "error: broken.json: broken profile"),
        (("drift", "check", "reference.parquet", "same.csv", "-f", "xml"), "'xml' is not one"),
    ):
        result = fw.run(*args, code=2)
        assert expected in result.error and result.stdout == "", result.stderr


def test_multivariate_flags_a_correlation_change_the_columns_do_not_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from firewatch.cli.main import app

    rng = np.random.default_rng(3)
    n = 1500
    a, b = rng.normal(size=n), rng.normal(size=n)
    reference = write(tmp_path / "ref.csv", {"a": a, "b": b, "c": rng.normal(size=n)})
    a = rng.normal(size=n)
    b = 0.8 * a + 0.6 * rng.normal(size=n)  # same marginals, now correlated
    current = write(tmp_path / "cur.csv", {"a": a, "b": b, "c": rng.normal(size=n)})
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    plain = runner.invoke(app, ["drift", "check", str(reference), str(current), "-f", "json"])
    assert plain.exit_code == 0, plain.stderr
    joint = runner.invoke(
        app, ["drift", "check", str(reference), str(current), "-f", "json", "--multivariate"]
    )
    assert joint.exit_code == 1, joint.stderr
    found = json.loads(joint.stdout)
    assert found["dataset_drift"] is False
    assert found["multivariate"]["drifted"] is True
    assert {f["column"] for f in found["multivariate"]["top_features"][:2]} == {"a", "b"}
    table = runner.invoke(app, ["drift", "check", str(reference), str(current), "--multivariate"])
    assert "Multivariate (domain classifier): DRIFT" in " ".join(table.stdout.split())
