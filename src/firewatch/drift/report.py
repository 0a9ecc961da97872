"""How a `DriftReport` is shown: a Rich table for the terminal, JSON for scripts, and a
self-contained HTML page with a distribution plot per column (PNGs embedded as base64).

Kept apart from the CLI so the API can serve the same renderings::

    from firewatch.drift.report import render_html, render_json, render_table
    render_table(report, Console())
    html = render_html(report, reference=profile_or_table, current=table)

Every number is formatted the same way everywhere (`number`); every verdict is worded once
(`verdict`). The HTML escapes every value (Jinja2 with autoescape) and loads nothing from
outside the file.
"""

from __future__ import annotations

import base64
import io
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table as RichTable
from rich.text import Text

from firewatch.drift.check import ColumnDrift, DriftReport
from firewatch.drift.data import Table
from firewatch.drift.profile import ColumnProfile, Profile, conform, profile_column
from firewatch.drift.sketch import CategoricalSketch, Floats, NumericSketch
from firewatch.drift.stattests import get
from firewatch.drift.stattests.base import Kind, TestResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MAX_PLOTS = 50
PLOT_BINS = 40
MAX_BARS = 12  # categories shown per categorical plot; the rest are summed
TAIL = 0.005  # numerical plots show the 0.5 %–99.5 % range of both sides; tails are clipped in

Justify = Literal["left", "right"]

# ---------------------------------------------------------------------------------------------
# Wording shared by every format
# ---------------------------------------------------------------------------------------------


def number(value: float | None) -> str:
    """A statistic or p-value in at most ~8 characters: 0.0123, 1.2e-05, 1234.5678, —."""
    if value is None or math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == 0:
        return "0"
    if abs(value) < 1e-4 or abs(value) >= 1e6:
        return f"{value:.1e}"
    return f"{value:.4f}"


def uses_p_value(result: TestResult) -> bool:
    """Whether the threshold applies to the p-value (drift below it) or the statistic."""
    return get(result.test).uses_p_value


def statistic_text(result: TestResult) -> str:
    """The statistic, and its bounds when it was estimated from a profile."""
    if result.exact or result.low == result.high:
        return number(result.statistic)
    if result.low == result.statistic:
        return f"{number(result.statistic)} (≤ {number(result.high)})"
    return f"{number(result.statistic)} ({number(result.low)}–{number(result.high)})"


def threshold_text(result: TestResult) -> str:
    """When the column counts as drifted: ``p < 0.05`` or ``≥ 0.1``."""
    return f"p < {result.threshold:g}" if uses_p_value(result) else f"≥ {result.threshold:g}"


def verdict(column: ColumnDrift) -> str:
    """DRIFT, ok (``*`` when the profile's bounds straddle the threshold), or why untested."""
    if column.status == "tested":
        assert column.result is not None
        mark = "" if column.result.certain else "*"
        return ("DRIFT" if column.result.drifted else "ok") + mark
    if column.status == "missing":
        return "missing in current"
    if column.status == "new":
        return "new in current"
    if column.status == "all_null":
        return "all null in current" if column.current_rows == 0 else "all null in reference"
    if column.status == "empty":
        return "no current values"
    return column.message or "type changed"


def ordered(report: DriftReport) -> list[ColumnDrift]:
    """Drifted columns first (largest shift first), then the rest in their original order."""
    drifted = sorted(report.drifted, key=_severity, reverse=True)
    return drifted + [c for c in report.columns if not c.drifted]


def _severity(column: ColumnDrift) -> float:
    """How far past its threshold a drifted column is, comparable across tests."""
    result = column.result
    if result is None:
        return 0.0
    if uses_p_value(result):  # p far below the threshold: -log10(p / threshold)
        return -math.log10(max(result.score, 1e-300) / max(result.threshold, 1e-300))
    return result.score / result.threshold if result.threshold else 0.0


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def summary_line(report: DriftReport) -> str:
    """``Dataset drift: YES — 10 of 20 columns drifted (50%, threshold 50%)``."""
    tested, drifted = len(report.tested), len(report.drifted)
    untested = len(report.columns) - tested
    if not tested:
        return f"Dataset drift: n/a — none of the {_plural(untested, 'column')} could be tested"
    answer = "YES" if report.dataset_drift else "NO"
    line = (
        f"Dataset drift: {answer} — {drifted:,} of {_plural(tested, 'column')} drifted "
        f"({report.share:.0%}, threshold {report.drift_share:.0%})"
    )
    if untested:
        line += f"; {untested:,} more could not be tested"
    return line


def _names(columns: Sequence[ColumnDrift], limit: int = 3) -> str:
    names = [c.name for c in columns[:limit]]
    more = len(columns) - limit
    return ", ".join(names) + (f" and {more:,} more" if more > 0 else "")


def next_steps(report: DriftReport) -> list[str]:
    """What to do now, in the order an on-call engineer should do it."""
    steps: list[str] = []
    by_status: dict[str, list[ColumnDrift]] = {}
    for column in report.columns:
        by_status.setdefault(column.status, []).append(column)
    missing, changed = by_status.get("missing", []), by_status.get("type_changed", [])
    nulls = by_status.get("all_null", []) + by_status.get("empty", [])
    if missing or changed:
        what = []
        if missing:
            what.append(f"missing in current: {_names(missing)}")
        if changed:
            what.append(f"type changed: {_names(changed)}")
        steps.append(
            f"Schema mismatch ({'; '.join(what)}). This is usually an upstream pipeline or "
            "schema change, not real-world drift: check recent deploys of the feature "
            "pipeline first."
        )
    if nulls:
        steps.append(
            f"No usable values in {_names(nulls)}: a broken join, source or feature job is the "
            "usual cause. Check the producer of these columns."
        )
    drifted = ordered(report)[: len(report.drifted)]
    if report.dataset_drift:
        steps.append(
            f"Dataset drift: start with the largest shifts ({_names(drifted)}). Many columns "
            "moving at once points to an upstream change (pipeline, source, units); a few "
            "points to a real change in traffic. Check the model's quality metrics before "
            "rolling back or retraining."
        )
    elif drifted:
        steps.append(
            f"{_plural(len(drifted), 'column')} drifted ({_names(drifted)}), below the dataset "
            "threshold: not an emergency on its own. Check whether the model relies on "
            f"{'it' if len(drifted) == 1 else 'them'} and whether quality metrics moved."
        )
    if any(c.result is not None and not c.result.certain for c in report.tested):
        steps.append(
            "Verdicts marked * are within the profile's error bounds of their threshold: "
            "compare with the raw reference data for an exact answer."
        )
    if not steps:
        steps.append("No drift detected: nothing to do for data drift.")
    return steps


def notes(report: DriftReport) -> list[str]:
    """Details that do not fit the table: new categories."""
    found = []
    for column in report.columns:
        if column.new_categories:
            shown = ", ".join(column.new_categories[:5])
            more = len(column.new_categories) - 5
            count = len(column.new_categories)
            found.append(
                f"{column.name}: {count:,} new {'category' if count == 1 else 'categories'} "
                f"({shown}{f' and {more:,} more' if more > 0 else ''})"
            )
    return found


# ---------------------------------------------------------------------------------------------
# Terminal
# ---------------------------------------------------------------------------------------------

_STYLE = {"DRIFT": "bold red", "ok": "green"}


def render_table(report: DriftReport, console: Console, *, hints: Sequence[str] = ()) -> None:
    """The per-column table, new-category notes, the summary line and the next steps."""
    columns = ordered(report)
    p_values = any(c.result is not None and c.result.p_value is not None for c in columns)
    table = RichTable(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        header_style="bold",
        pad_edge=False,
        collapse_padding=True,
    )
    # name, justify, minimum width when it has to wrap (None: never wraps)
    headers: tuple[tuple[str, Justify, int | None], ...] = (
        ("COLUMN", "left", 6),
        ("KIND", "left", None),
        ("TEST", "left", None),
        ("STATISTIC", "right", 10),  # "0.0305" over "(≤ 0.0408)" when short of room
        *((("P-VALUE", "right", None),) if p_values else ()),
        ("THRESHOLD", "right", None),
        ("VERDICT", "left", None),  # whole, so that a grep for a column shows its verdict
    )
    for header, justify, min_width in headers:
        table.add_column(
            header, justify=justify, overflow="fold", no_wrap=min_width is None, min_width=min_width
        )
    for column in columns:
        shown = verdict(column)
        style = _STYLE.get(shown.rstrip("*"), "yellow")
        kind = column.kind.value[:3] if column.kind else "—"
        result = column.result
        if result is None:
            cells = ["—", "", *([""] if p_values else []), ""]
        else:
            cells = [
                result.test,
                statistic_text(result),
                *([number(result.p_value)] if p_values else []),
                threshold_text(result),
            ]
        table.add_row(Text(column.name), kind, *map(Text, cells), Text(shown, style=style))
    console.print(table)
    for note in notes(report):
        console.print(Text(note), highlight=False)
    if not report.exact:
        console.print(
            Text(
                "Reference is a profile: statistics are estimated from its bins, with bounds; "
                "* = the exact verdict could differ.",
                style="dim",
            )
        )
    console.print()
    console.print(
        Text(summary_line(report), style="bold red" if report.dataset_drift else "bold green")
    )
    console.print(Text("Next steps:", style="bold"))
    steps = RichTable.grid(padding=(0, 1))  # a hanging indent when a step wraps
    steps.add_column(no_wrap=True)
    steps.add_column()
    for step in [*next_steps(report), *hints]:
        steps.add_row("•", Text(step))
    console.print(Padding(steps, (0, 0, 0, 2)))


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------


def report_dict(report: DriftReport, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``report.to_dict()`` plus ``extra`` (paths, timing …), with every non-finite number as
    null so the result is strict JSON."""
    found: dict[str, Any] = _finite(
        {**report.to_dict(), "summary": summary_line(report), **(extra or {})}
    )
    return found


def render_json(report: DriftReport, extra: Mapping[str, Any] | None = None) -> str:
    return json.dumps(report_dict(report, extra), indent=2, ensure_ascii=False, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, np.generic):
        return _finite(value.item())
    return value


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------

_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Drift report: {{ current_label }}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       margin: 2rem auto; max-width: 1180px; padding: 0 1rem; color: #1d1d1f; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; }
.summary { font-size: 1.15rem; font-weight: 600; padding: .6rem .9rem; border-radius: 6px; }
.summary.yes { background: #fdecea; color: #a50e0e; }
.summary.no { background: #e8f5e9; color: #1b5e20; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; }
dl.meta dt { color: #666; }
dl.meta dd { margin: 0; }
table { border-collapse: collapse; }
th, td { padding: .3rem .7rem; border-bottom: 1px solid #e3e3e3; text-align: left;
         vertical-align: top; }
th { background: #f6f6f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.v-drift { color: #a50e0e; font-weight: 700; }
.v-ok { color: #1b5e20; }
.v-status { color: #8a5a00; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; border: 1px solid #e3e3e3; border-radius: 4px; padding: 6px; }
figcaption { font-size: 12px; color: #444; max-width: 368px; overflow-wrap: anywhere; }
.muted { color: #666; }
</style>
</head>
<body>
<h1>Drift report</h1>
<p class="muted">Generated {{ generated }} by Firewatch.</p>
<p class="summary {{ 'yes' if report.dataset_drift else 'no' }}">{{ summary }}</p>
<dl class="meta">
{% for label, value in meta %}<dt>{{ label }}</dt><dd>{{ value }}</dd>
{% endfor %}</dl>

<h2>Next steps</h2>
<ul>
{% for step in steps %}<li>{{ step }}</li>
{% endfor %}</ul>

<h2>Columns</h2>
<table>
<thead><tr><th>Column</th><th>Kind</th><th>Test</th><th>Statistic</th><th>p-value</th>
<th>Threshold</th><th>Verdict</th><th>Reference rows</th><th>Current rows</th>
<th>Current nulls</th><th>Notes</th></tr></thead>
<tbody>
{% for row in rows %}<tr>
<td>{% if row.plot %}<a href="#{{ row.plot }}">{{ row.name }}</a>
{%- else %}{{ row.name }}{% endif %}</td>
<td>{{ row.kind }}</td><td>{{ row.test }}</td><td class="num">{{ row.statistic }}</td>
<td class="num">{{ row.p_value }}</td><td class="num">{{ row.threshold }}</td>
<td class="{{ row.css }}">{{ row.verdict }}</td>
<td class="num">{{ row.reference_rows }}</td><td class="num">{{ row.current_rows }}</td>
<td class="num">{{ row.current_nulls }}</td><td>{{ row.message }}</td>
</tr>
{% endfor %}</tbody>
</table>
{% if not report.exact %}<p class="muted">The reference is a profile: statistics are estimated
from its bins and shown with bounds; * marks a verdict the exact statistic could change.</p>
{%- endif %}

<h2>Distributions</h2>
{% if plots %}<div class="plots">
{% for plot in plots %}<figure id="{{ plot.anchor }}">
<img src="data:image/png;base64,{{ plot.png }}" width="{{ plot.width }}" height="{{ plot.height }}"
     alt="Distribution of {{ plot.name }}: reference and current">
<figcaption><strong>{{ plot.name }}</strong> — {{ plot.caption }}</figcaption>
</figure>
{% endfor %}</div>
{% else %}<p class="muted">No column could be plotted.</p>{% endif %}
{% if not_plotted %}<p class="muted">{{ not_plotted }} more tested columns are not plotted
(at most {{ max_plots }}, drifted first).</p>{% endif %}
</body>
</html>
"""


@dataclass(frozen=True)
class Plot:
    name: str
    anchor: str
    png: str  # base64
    width: int
    height: int
    caption: str


def render_html(
    report: DriftReport,
    *,
    reference: Table | Profile,
    current: Table,
    reference_label: str = "reference",
    current_label: str = "current",
    meta: Sequence[tuple[str, str]] = (),
    hints: Sequence[str] = (),
    max_plots: int = MAX_PLOTS,
) -> str:
    """A self-contained page: summary, next steps, the column table and a plot per tested column
    (at most ``max_plots``, drifted first). ``reference`` is the raw reference table or the
    profile the report was computed from; ``current`` the current table."""
    import jinja2

    tested = [c for c in ordered(report) if c.status == "tested"]
    plots: list[Plot] = []
    for column in tested[:max_plots]:
        png = plot_column(column, reference, current)
        if png is not None:
            plots.append(
                Plot(
                    column.name,
                    f"plot-{len(plots) + 1}",
                    png,
                    *PLOT_PIXELS,
                    _caption(column),
                )
            )
    anchors = {p.name: p.anchor for p in plots}
    rows = [_row(c, anchors.get(c.name)) for c in ordered(report)]
    what = "rows, a saved profile" if isinstance(reference, Profile) else "rows"
    info = [
        ("Reference", f"{reference_label} ({report.reference_rows:,} {what})"),
        ("Current", f"{current_label} ({report.current_rows:,} rows)"),
        ("Statistics", "exact, from raw data" if report.exact else "estimated from the profile"),
        *meta,
    ]
    environment = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    return environment.from_string(_TEMPLATE).render(
        report=report,
        summary=summary_line(report),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        current_label=current_label,
        meta=info,
        steps=[*next_steps(report), *hints],
        rows=rows,
        plots=plots,
        not_plotted=max(0, len(tested) - max_plots),
        max_plots=max_plots,
    )


def _caption(column: ColumnDrift) -> str:
    result = column.result
    assert result is not None
    p = f", p = {number(result.p_value)}" if result.p_value is not None else ""
    return (
        f"{result.test} {statistic_text(result)}{p} ({threshold_text(result)}): {verdict(column)}"
    )


def _row(column: ColumnDrift, anchor: str | None) -> dict[str, Any]:
    result = column.result
    shown = verdict(column)
    css = {"DRIFT": "v-drift", "ok": "v-ok"}.get(shown.rstrip("*"), "v-status")
    return {
        "name": column.name,
        "plot": anchor,
        "kind": column.kind.value if column.kind else "—",
        "test": result.test if result else "—",
        "statistic": statistic_text(result) if result else "",
        "p_value": number(result.p_value) if result else "",
        "threshold": threshold_text(result) if result else "",
        "verdict": shown,
        "css": css,
        "reference_rows": f"{column.reference_rows:,}",
        "current_rows": f"{column.current_rows:,}",
        "current_nulls": f"{column.current_nulls:,}",
        "message": column.message,
    }


# ---------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------

PLOT_INCHES = (4.6, 2.5)
PLOT_DPI = 80
PLOT_PIXELS = (round(PLOT_INCHES[0] * PLOT_DPI), round(PLOT_INCHES[1] * PLOT_DPI))
REFERENCE_COLOUR = "#4C72B0"
CURRENT_COLOUR = "#DD8452"


def plot_column(column: ColumnDrift, reference: Table | Profile, current: Table) -> str | None:
    """A small PNG (base64) of one tested column's reference and current distributions, or
    None when the data needed is not there (the column is not in both inputs)."""
    name = column.name
    if column.status != "tested" or name not in current.columns or name not in reference.columns:
        return None
    found = current.columns[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. glyphs missing from the font for odd names
        if column.kind is Kind.NUMERICAL:
            if found.kind is not Kind.NUMERICAL:
                return None
            if isinstance(reference, Profile):
                sketch = reference.columns[name].sketch
                assert isinstance(sketch, NumericSketch)
                return _numeric_profile(name, sketch, found.values)
            return _numeric_raw(name, reference.columns[name].values, found.values)
        if isinstance(reference, Profile):
            ref_profile: ColumnProfile = reference.columns[name]
        else:
            raw = reference.columns[name]
            ref_profile = profile_column(raw.kind, raw.values, PLOT_BINS).profile
        cur = conform(ref_profile, found.kind, found.values)
        if isinstance(cur, str):
            return None
        assert isinstance(ref_profile.sketch, CategoricalSketch)
        assert isinstance(cur.profile.sketch, CategoricalSketch)
        return _categorical(name, ref_profile.sketch, cur.profile.sketch)


def _finite_values(values: Any) -> Floats:
    array = np.asarray(values, dtype=np.float64)
    return array[np.isfinite(array)]


def _display_edges(low: float, high: float) -> Floats:
    if not high > low:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, PLOT_BINS + 1)


def _masses(values: Floats, edges: Floats) -> Floats:
    """Share of ``values`` per display bin, the tails clipped into the end bins."""
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), edges)
    return counts / max(len(values), 1)


def _numeric_raw(name: str, reference: Any, current: Any) -> str | None:
    ref, cur = _finite_values(reference), _finite_values(current)
    if not len(ref) or not len(cur):
        return None
    ref_q = np.quantile(ref, [TAIL, 1 - TAIL])
    cur_q = np.quantile(cur, [TAIL, 1 - TAIL])
    edges = _display_edges(float(min(ref_q[0], cur_q[0])), float(max(ref_q[1], cur_q[1])))
    return _numeric_png(name, edges, _masses(ref, edges), _masses(cur, edges))


def _numeric_profile(name: str, sketch: NumericSketch, current: Any) -> str | None:
    """The reference from the profile: its CDF is known at every edge and taken as linear
    between edges (values spread evenly within a profile bin), then read at the display edges."""
    cur = _finite_values(current)
    n = sketch.n
    if not n or not len(cur) or not len(sketch.edges):
        return None
    edges_ref = sketch.edges
    last = len(edges_ref) - 1
    ref_low = float(edges_ref[round(TAIL * last)])
    ref_high = float(edges_ref[round((1 - TAIL) * last)])
    cur_q = np.quantile(cur, [TAIL, 1 - TAIL])
    edges = _display_edges(min(ref_low, float(cur_q[0])), max(ref_high, float(cur_q[1])))
    cdf_at_edges = np.cumsum(sketch.counts[:-1]) / n  # P(X ≤ e_k)
    cdf = np.interp(edges, edges_ref, cdf_at_edges, left=0.0, right=1.0)
    ref_masses = np.diff(cdf)
    ref_masses[0] += cdf[0]  # clip the tails in, as for the current values
    ref_masses[-1] += 1.0 - cdf[-1]
    return _numeric_png(name, edges, ref_masses, _masses(cur, edges))


def _numeric_png(name: str, edges: Floats, reference: Floats, current: Floats) -> str:
    from matplotlib.colors import to_rgba

    figure, axes = _figure()
    for masses, colour, label in (
        (reference, REFERENCE_COLOUR, "reference"),
        (current, CURRENT_COLOUR, "current"),
    ):
        axes.stairs(
            masses,
            edges,
            fill=True,
            facecolor=to_rgba(colour, 0.4),
            edgecolor=colour,
            linewidth=1,
            label=label,
        )
    axes.set_ylabel("share", fontsize=8)
    return _finish(figure, axes, name)


def _categorical(name: str, reference: CategoricalSketch, current: CategoricalSketch) -> str | None:
    n_ref, n_cur = reference.n, current.n
    if not n_ref or not n_cur:
        return None
    categories = list(reference.counts) + [c for c in current.counts if c not in reference.counts]
    ref = np.array([reference.counts.get(c, 0) / n_ref for c in categories])
    cur = np.array([current.counts.get(c, 0) / n_cur for c in categories])
    order = np.argsort(-np.maximum(ref, cur), kind="stable")
    labels = [categories[i] for i in order[:MAX_BARS]]
    ref_shown, cur_shown = list(ref[order[:MAX_BARS]]), list(cur[order[:MAX_BARS]])
    if len(categories) > MAX_BARS:
        rest = order[MAX_BARS:]
        labels.append(f"({len(rest):,} more)")
        ref_shown.append(float(ref[rest].sum()))
        cur_shown.append(float(cur[rest].sum()))
    figure, axes = _figure(bottom=0.27)  # room for the slanted category names
    x = np.arange(len(labels))
    axes.bar(x - 0.2, ref_shown, 0.4, color=REFERENCE_COLOUR, alpha=0.8, label="reference")
    axes.bar(x + 0.2, cur_shown, 0.4, color=CURRENT_COLOUR, alpha=0.8, label="current")
    axes.set_xticks(x, [_label(c) for c in labels], rotation=30, ha="right", fontsize=7)
    axes.set_ylabel("share", fontsize=8)
    return _finish(figure, axes, name)


def _label(text: str, limit: int = 14) -> str:
    """Plain text for matplotlib: ``$`` would start mathtext; long names are cut."""
    cut = text if len(text) <= limit else text[: limit - 1] + "…"
    return cut.replace("$", r"\$")


def _figure(bottom: float = 0.12) -> tuple[Figure, Axes]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=PLOT_INCHES, dpi=PLOT_DPI)
    FigureCanvasAgg(figure)  # Agg, whatever the process's default backend is
    # Fixed margins: a layout engine would cost a second draw (half the time of a plot).
    figure.subplots_adjust(left=0.13, right=0.98, top=0.9, bottom=bottom)
    return figure, figure.add_subplot()


def _finish(figure: Figure, axes: Axes, name: str) -> str:
    axes.set_title(_label(name, 50), fontsize=9)
    axes.set_ylim(0, axes.get_ylim()[1] * 1.25)  # room for the legend above the bars
    axes.tick_params(labelsize=7)
    axes.legend(fontsize=7, frameon=False, loc="upper right", ncols=2)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")
