"""``firewatch drift check`` and ``firewatch drift profile``: has the data a model sees drifted
from its reference?

``drift check`` exits like ``diff``: 0 when there is no dataset drift, 1 when there is, 2 when
the input is bad (a missing or unreadable file, a broken profile, no columns in common, an
unknown test …), always with one ``error:`` line on stderr and never a traceback. Scripts and
alert rules can rely on it: ``firewatch drift check ref.parquet today.csv -f json > out.json``.

The drift machinery (pyarrow, scipy, matplotlib) is imported inside the commands so that every
other command starts as fast as before.
"""

from __future__ import annotations

import math
import shlex
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from firewatch.cli.common import console, err_console
from firewatch.errors import FirewatchError, InvalidInput

if TYPE_CHECKING:
    from firewatch.drift import DriftOptions, DriftReport, Profile, Table
    from firewatch.drift.multivariate import MultivariateResult

app = typer.Typer(
    help="Data drift: compare current data with a reference (CSV, Parquet or a saved profile).",
    no_args_is_help=True,
)

LARGE = 100_000  # rows × columns from which a progress bar is shown
BIG_FILE = 16 * 2**20  # bytes from which reading a file shows a spinner
PROFILE_SUFFIX = ".json"
DEFAULT_HTML = "drift-report.html"
TESTS = "ks, wasserstein, psi, jensen_shannon, chi_squared, z"
EXIT_DRIFT = 1
EXIT_BAD_INPUT = 2


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    HTML = "html"


@contextmanager
def _bad_input() -> Iterator[None]:
    """Any error the user caused: one line on stderr, exit status 2."""
    from firewatch.drift import DataError

    try:
        yield
    except (FirewatchError, DataError) as exc:
        message = exc.message if isinstance(exc, FirewatchError) else str(exc)
        err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None


@contextmanager
def _progress(description: str, total: int | None, show: bool) -> Iterator[Callable[[str], None]]:
    """A transient progress bar on stderr (stdout stays clean for JSON); ``show=False`` or a
    non-terminal stderr shows nothing. Yields a callback taking the name of what just finished."""
    if not show:
        yield lambda _name: None
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with progress:
        task = progress.add_task(description, total=total)

        def step(name: str) -> None:
            shown = name if len(name) <= 30 else name[:29] + "…"
            progress.update(task, advance=1, description=f"{description}: {shown}")

        yield step


def _big(path: Path) -> bool:
    try:
        return path.stat().st_size >= BIG_FILE
    except OSError:
        return False  # reading it will say what is wrong


def _read(path: Path) -> Table:
    from firewatch.drift import read_table

    with _progress(f"Reading {path.name}", None, _big(path)):
        return read_table(path)


def _load_reference(path: Path) -> Table | Profile:
    """A saved profile (``*.json``) or a data file."""
    from firewatch.drift import DataError, Profile

    if path.suffix.lower() != PROFILE_SUFFIX:
        table = _read(path)
        if table.rows == 0:
            raise DataError(f"{path}: has no rows")
        return table
    if not path.exists():
        raise DataError(f"{path}: no such file")
    try:
        return Profile.load(path)
    except DataError as exc:
        message = str(exc)
        if message.startswith(str(path)):
            raise
        raise DataError(f"{path}: {message}") from exc
    except (AttributeError, IndexError) as exc:  # a JSON document of the wrong shape
        raise DataError(f"{path}: broken profile: {exc}") from exc


def _parse_column_tests(values: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for value in values:
        column, equals, name = value.rpartition("=")
        if not equals or not column.strip() or not name.strip():
            raise InvalidInput(f"--column-test expects COLUMN=TEST, got {value!r}")
        found[column.strip()] = name.strip()
    return found


def _options(
    test: str | None,
    column_tests: dict[str, str],
    threshold: float | None,
    drift_share: float,
) -> DriftOptions:
    from firewatch.drift import DriftOptions, get

    if threshold is not None and not (math.isfinite(threshold) and threshold > 0):
        raise InvalidInput(f"--threshold must be a positive number, got {threshold:g}")
    if not (math.isfinite(drift_share) and 0 < drift_share <= 1):
        raise InvalidInput(
            f"--drift-share must be more than 0 and at most 1 (a share of columns), "
            f"got {drift_share:g}"
        )
    try:
        options = DriftOptions(
            test=test, column_tests=column_tests, threshold=threshold, drift_share=drift_share
        )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if threshold is not None and threshold >= 1:
        for name in [test, *column_tests.values()]:
            if name is not None and get(name).uses_p_value:
                raise InvalidInput(_p_threshold(name, threshold))
    return options


def _p_threshold(test: str, threshold: float) -> str:
    return (
        f"--threshold {threshold:g} is out of range for {test}: its threshold is a p-value "
        "(drift when p < threshold), so it must be between 0 and 1"
    )


def _select(
    reference: Table | Profile, current: Table, wanted: list[str] | None
) -> tuple[Table | Profile, Table]:
    """Only the ``--columns`` asked for (each must be in the reference)."""
    from dataclasses import replace

    from firewatch.drift import Profile, Table

    if wanted is None:
        return reference, current
    unknown = [n for n in wanted if n not in reference.columns]
    if unknown:
        raise InvalidInput(
            f"--columns: no column {', '.join(map(repr, unknown))} in the reference "
            f"(it has {_list(reference.columns)})"
        )
    if isinstance(reference, Profile):
        reference = replace(reference, columns={n: reference.columns[n] for n in wanted})
    else:
        reference = Table(
            {n: reference.columns[n] for n in wanted}, reference.rows, reference.skipped
        )
    kept = {n: c for n, c in current.columns.items() if n in wanted}
    return reference, Table(kept, current.rows, current.skipped)


def _list(names: Any, limit: int = 8) -> str:
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit:,} more" if len(names) > limit else "")


def _untestable(report: DriftReport) -> str:
    """Why nothing could be tested: the columns in both inputs first."""
    from firewatch.drift.report import verdict

    both = [c for c in report.columns if c.status not in ("missing", "new")]
    reasons = "; ".join(f"{c.name}: {verdict(c)}" for c in both[:8])
    if len(both) > 8:
        reasons += f"; and {len(both) - 8:,} more"
    one_side = len(report.columns) - len(both)
    elsewhere = f"; {one_side:,} more in only one of the inputs" if one_side else ""
    return f"no column could be tested ({reasons}){elsewhere}"


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot write it: {exc.strerror or exc}") from None


def _size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1024:,.0f} kB" if size >= 1024 else f"{size} B"


@app.command("check")
def check(
    reference: Annotated[
        Path,
        typer.Argument(
            help="Reference data (.csv, .tsv, .parquet) or a profile saved by `drift profile` "
            "(.json).",
            show_default=False,
        ),
    ],
    current: Annotated[
        Path, typer.Argument(help="Current data (.csv, .tsv, .parquet).", show_default=False)
    ],
    format_: Annotated[
        Format, typer.Option("--format", "-f", help="table, json (stdout) or html (a file).")
    ] = Format.TABLE,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the report here (html: default drift-report.html; table and json: "
            "default stdout).",
            show_default=False,
        ),
    ] = None,
    test: Annotated[
        str | None,
        typer.Option(
            help=f"One test for every column it applies to ({TESTS}); default: chosen per column.",
            metavar="NAME",
            show_default=False,
        ),
    ] = None,
    column_test: Annotated[
        list[str] | None,
        typer.Option(
            "--column-test",
            help="COLUMN=TEST for one column (repeat).",
            metavar="COLUMN=TEST",
            show_default=False,
        ),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            help="Override the threshold of --test (of every test when no --test is given); "
            "a p-value for ks, chi_squared and z.",
            show_default=False,
        ),
    ] = None,
    drift_share: Annotated[
        float,
        typer.Option(help="Share of tested columns that must drift for dataset drift."),
    ] = 0.5,
    columns: Annotated[
        str | None,
        typer.Option(
            help="Only these columns, comma-separated.", metavar="A,B,C", show_default=False
        ),
    ] = None,
    multivariate: Annotated[
        bool,
        typer.Option(
            "--multivariate",
            help="Also train a classifier to tell reference rows from current ones: it sees "
            "changes in how columns relate that no single-column test can (a few seconds).",
        ),
    ] = False,
) -> None:
    """Which columns of CURRENT drifted from REFERENCE, and whether the dataset did.

    Exit status, like diff: 0 no drift, 1 dataset drift (or, with --multivariate, a
    changed joint distribution), 2 bad input.
    """
    with _bad_input():
        code = _check(
            reference,
            current,
            format_,
            output,
            test,
            column_test or [],
            threshold,
            drift_share,
            columns,
            multivariate,
        )
    raise typer.Exit(code)


def _check(
    reference_path: Path,
    current_path: Path,
    format_: Format,
    output: Path | None,
    test: str | None,
    column_test: list[str],
    threshold: float | None,
    drift_share: float,
    columns: str | None,
    multivariate: bool = False,
) -> int:
    from firewatch.drift import DataError, Profile, Table, check_profile, check_tables

    started = time.perf_counter()
    column_tests = _parse_column_tests(column_test)
    wanted = None
    if columns is not None:
        wanted = list(dict.fromkeys(n.strip() for n in columns.split(",") if n.strip()))
        if not wanted:
            raise InvalidInput("--columns is empty: give column names separated by commas")
    options = _options(test, column_tests, threshold, drift_share)

    reference = _load_reference(reference_path)
    current = _read(current_path)
    if current.rows == 0:
        raise DataError(f"{current_path}: has no rows")
    reference, current = _select(reference, current, wanted)
    common = [n for n in reference.columns if n in current.columns]
    if not common:
        raise DataError(
            f"no columns in common: the reference has {_list(reference.columns) or 'none'}, "
            f"the current data {_list(current.columns) or 'none'}"
        )
    unknown = [n for n in column_tests if n not in reference.columns]
    if unknown:
        raise InvalidInput(
            f"--column-test: no column {', '.join(map(repr, unknown))} in the reference"
        )
    loaded = time.perf_counter()

    rows = max(reference.rows, current.rows)
    with _progress("Checking", len(reference.columns), rows * len(common) >= LARGE) as step:
        if isinstance(reference, Profile):
            report = check_profile(reference, current, options, progress=step)
        else:
            report = check_tables(reference, current, options, progress=step)

    if not report.tested:
        raise DataError(_untestable(report))
    if threshold is not None and threshold >= 1:
        from firewatch.drift.report import uses_p_value

        for column in report.tested:
            result = column.result
            if result is not None and uses_p_value(result) and result.threshold == threshold:
                raise InvalidInput(
                    _p_threshold(result.test, threshold) + f" (the test of column {column.name!r}; "
                    "choose tests with --test or --column-test)"
                )

    joint = None
    extra_lines: list[str] = []
    if multivariate:
        from firewatch.drift.multivariate import check_multivariate

        with _progress("Training the domain classifier", 1, True) as step:
            joint = check_multivariate(reference, current, columns=common)
            step("classifier")
        extra_lines.append(_multivariate_line(joint))
    checked = time.perf_counter()

    skipped = {**(reference.skipped if isinstance(reference, Table) else {}), **current.skipped}
    paths = (reference_path, current_path)
    drifted = report.dataset_drift or bool(joint and joint.drifted)
    if format_ is Format.JSON:
        timing = {
            "read_seconds": round(loaded - started, 4),
            "check_seconds": round(checked - loaded, 4),
            "total_seconds": round(time.perf_counter() - started, 4),
        }
        extra: dict[str, Any] = {"skipped": skipped, "timing": timing}
        if joint is not None:
            extra["multivariate"] = joint.to_dict()
        _emit_json(report, reference, paths, output, extra)
    elif format_ is Format.HTML:
        took = ("Took", f"{checked - started:.2f} s to read and check")
        meta = [*(("Skipped", f"{name}: {why}") for name, why in skipped.items()), took]
        meta += [("Multivariate", line) for line in extra_lines]
        _emit_html(report, reference, current, paths, output, meta)
    else:
        _emit_table(report, reference, paths, output, skipped, extra_lines)
    return EXIT_DRIFT if drifted else 0


def _multivariate_line(result: MultivariateResult) -> str:
    if result.status != "ok" or result.auc is None or result.threshold is None:
        return f"Multivariate (domain classifier): not judged — {result.message}"
    top = ", ".join(f.name for f in result.top_features[:3])
    if result.drifted:
        return (
            f"Multivariate (domain classifier): DRIFT — reference and current rows can be told "
            f"apart (ROC-AUC {result.auc:.3f} ≥ {result.threshold:.3f}); most telling: {top}"
        )
    return (
        f"Multivariate (domain classifier): ok — ROC-AUC {result.auc:.3f} "
        f"(drift from {result.threshold:.3f})"
    )


def _plots_hint(paths: tuple[Path, Path]) -> str:
    reference, current = (shlex.quote(str(p)) for p in paths)
    return f"Distribution plots: firewatch drift check {reference} {current} --format html"


def _wrote(report: DriftReport, path: Path, what: str = "") -> None:
    from firewatch.drift.report import summary_line

    console.print(summary_line(report), highlight=False, markup=False)
    console.print(f"Wrote {path} ({_size(path)}{what})", highlight=False, markup=False)


def _emit_json(
    report: DriftReport,
    reference: Table | Profile,
    paths: tuple[Path, Path],
    output: Path | None,
    extra: dict[str, Any],
) -> None:
    from firewatch.drift import Profile
    from firewatch.drift.report import render_json

    kind = "profile" if isinstance(reference, Profile) else "data"
    text = render_json(
        report,
        {
            "reference": {"path": str(paths[0]), "kind": kind},
            "current": {"path": str(paths[1])},
            **extra,
        },
    )
    if output is None:
        typer.echo(text)
        return
    _write(output, text + "\n")
    _wrote(report, output)


def _emit_html(
    report: DriftReport,
    reference: Table | Profile,
    current: Table,
    paths: tuple[Path, Path],
    output: Path | None,
    meta: list[tuple[str, str]],
) -> None:
    from firewatch.drift.report import render_html

    target = output or Path(DEFAULT_HTML)
    html = render_html(
        report,
        reference=reference,
        current=current,
        reference_label=str(paths[0]),
        current_label=str(paths[1]),
        meta=meta,
    )
    _write(target, html)
    plots = html.count("<img ")
    _wrote(report, target, f", {plots:,} plot{'' if plots == 1 else 's'}")


def _emit_table(
    report: DriftReport,
    reference: Table | Profile,
    paths: tuple[Path, Path],
    output: Path | None,
    skipped: dict[str, str],
    extra_lines: Sequence[str] = (),
) -> None:
    from firewatch.drift.report import render_table

    def emit(out: Console) -> None:
        _header(out, paths, report, reference)
        for name, why in skipped.items():
            out.print(f"Skipped {name}: {why}", highlight=False, markup=False)
        for line in extra_lines:
            out.print(line, highlight=False, markup=False)
        render_table(report, out, hints=[_plots_hint(paths)])

    if output is None:
        emit(console)
        return
    try:
        with output.open("w", encoding="utf-8") as handle:
            emit(Console(file=handle, width=120, no_color=True, force_terminal=False))
    except OSError as exc:
        raise InvalidInput(f"{output}: cannot write it: {exc.strerror or exc}") from None
    _wrote(report, output)


def _header(
    out: Console, paths: tuple[Path, Path], report: DriftReport, reference: Table | Profile
) -> None:
    from firewatch.drift import Profile

    what = "rows, profile" if isinstance(reference, Profile) else "rows"
    out.print(
        f"Reference {paths[0]} ({report.reference_rows:,} {what}) · "
        f"current {paths[1]} ({report.current_rows:,} rows)",
        highlight=False,
        markup=False,
    )


@app.command("profile")
def profile(
    data: Annotated[
        Path,
        typer.Argument(help="Reference data (.csv, .tsv, .parquet).", show_default=False),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Where to save the profile (.json).", show_default=False
        ),
    ],
    bins: Annotated[
        int,
        typer.Option(
            min=10,
            max=100_000,
            help="Bins per numerical column: more is closer to the exact tests, and larger.",
        ),
    ] = 1000,
) -> None:
    """Save a reference profile of DATA: compact, and enough for `drift check` later.

    Its size does not grow with the rows: about 1.7 MB for 20 columns, half of it sample rows.

    The sample is up to 2,000 whole rows of raw values: mind what the data holds.
    """
    with _bad_input():
        _profile(data, output, bins)


def _profile(data: Path, output: Path, bins: int) -> None:
    from firewatch.drift import DataError, Kind, build_profile

    if output.suffix.lower() != PROFILE_SUFFIX:
        raise InvalidInput(
            f"--output {output}: a profile must end in {PROFILE_SUFFIX} "
            "(that is how `drift check` recognises one)"
        )
    table = _read(data)
    if table.rows == 0:
        raise DataError(f"{data}: has no rows")
    if not table.columns:
        raise DataError(f"{data}: no numerical or categorical column to profile")
    large = table.rows * len(table.columns) >= LARGE
    with _progress("Profiling", len(table.columns), large) as step:
        built = build_profile(table, bins=bins, source=str(data), progress=step)
    try:
        built.save(output)
    except OSError as exc:
        raise InvalidInput(f"{output}: cannot write it: {exc.strerror or exc}") from None
    kinds = [c.kind for c in built.columns.values()]
    numerical = sum(k is Kind.NUMERICAL for k in kinds)
    console.print(
        f"Profiled {data}: {built.rows:,} rows × {len(kinds):,} columns "
        f"({numerical:,} numerical, {len(kinds) - numerical:,} categorical) "
        f"→ {output} ({_size(output)})",
        highlight=False,
        markup=False,
    )
    for name, why in table.skipped.items():
        console.print(f"Skipped {name}: {why}", highlight=False, markup=False)
    console.print(
        f"Next: firewatch drift check {shlex.quote(str(output))} CURRENT.csv",
        highlight=False,
        markup=False,
    )
