"""Drift detection: Firewatch vs Evidently's ``DataDriftPreset`` vs a plain scipy loop, on the
same reference and current data (20 float columns, half of them changed).

For each size every engine runs in a fresh subprocess that reads the two Parquet files (not
timed), then times the drift computation alone (median of ``--repeat`` runs; Evidently runs
``--evidently-repeat`` times) and measures the resident memory after loading (*base MB*) and at
peak during the computation (*peak MB*: the kernel's high-water mark, reset after loading).

- **evidently**: ``Report([DataDriftPreset()])`` in its own virtualenv
  (``benchmarks/.venv-evidently``: Evidently 0.7 needs pandas < 3), created here if missing.
- **firewatch exact**: ``check_tables`` on the raw reference and current tables.
- **firewatch build**: ``build_profile`` of the reference (once per reference), saved as JSON.
- **firewatch profile**: ``check_profile`` of the current against that saved profile (loaded,
  not timed): the per-window cost of a monitored model.
- **scipy**: a plain loop, ``wasserstein_distance(ref, cur) / max(std(ref), 0.001)`` or
  ``ks_2samp(ref, cur)`` per column.

Both the default test at these sizes (normed Wasserstein, drift when ≥ 0.1) and KS (drift when
p < 0.05) are run. *agree* counts the per-column verdicts equal to Evidently's under the same
test and threshold (to the scipy loop's when Evidently is skipped), *vs exact* the profile's
verdicts equal to Firewatch exact's, *certain* the profile verdicts that hold anywhere in the
statistic's error bounds.

    .venv/bin/python benchmarks/drift.py [--sizes 100000,1000000] [--repeat 3] [--skip-evidently]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EVIDENTLY_VENV = HERE / ".venv-evidently"
EVIDENTLY_SPEC = ["evidently==0.7.23", "pandas<3", "pyarrow"]
TESTS = ("wasserstein", "ks")
THRESHOLDS = {"wasserstein": 0.1, "ks": 0.05}


@dataclass(frozen=True)
class Spec:
    """One column: its distribution, and how the current differs (in reference std units)."""

    dist: str
    shift: float = 0.0  # location shift, × the distribution's std
    scale: float = 1.0  # scale change around the distribution's mean

    @property
    def change(self) -> str:
        if self.scale != 1.0:
            return f"scale ×{self.scale:g}"
        return f"shift {self.shift:g} σ" if self.shift else "—"


# Half the columns changed; several near the Wasserstein threshold of 0.1 (a location shift of
# δ σ moves the normed distance to ≈ δ), one (0.01 σ) only KS can see, one (scale ×1.1, W ≈ 0.08)
# that KS flags and Wasserstein does not.
COLUMNS = [
    Spec("normal"),
    Spec("normal", shift=0.01),
    Spec("lognormal"),
    Spec("lognormal", shift=0.05),
    Spec("uniform"),
    Spec("uniform", shift=0.09),
    Spec("exponential"),
    Spec("normal", shift=0.095),
    Spec("gamma"),
    Spec("exponential", shift=0.105),
    Spec("bimodal"),
    Spec("gamma", shift=0.11),
    Spec("student_t"),
    Spec("normal", scale=1.1),
    Spec("rounded"),
    Spec("bimodal", shift=0.2),
    Spec("offset"),
    Spec("rounded", shift=0.5),
    Spec("exponential"),
    Spec("student_t", scale=1.25),
]
NAMES = [f"f{i:02d}" for i in range(len(COLUMNS))]


def sample(dist: str, n: int, rng: Any) -> tuple[Any, float, float]:
    """n values of a distribution, with its mean and standard deviation."""
    if dist == "normal":
        return rng.normal(0.0, 1.0, n), 0.0, 1.0
    if dist == "lognormal":  # sigma 0.5
        return (
            rng.lognormal(0.0, 0.5, n),
            math.exp(0.125),
            math.sqrt((math.e**0.25 - 1) * math.e**0.25),
        )
    if dist == "uniform":
        return rng.uniform(0.0, 1.0, n), 0.5, math.sqrt(1 / 12)
    if dist == "exponential":
        return rng.exponential(1.0, n), 1.0, 1.0
    if dist == "gamma":  # shape 2
        return rng.gamma(2.0, 1.0, n), 2.0, math.sqrt(2.0)
    if dist == "bimodal":  # ½ N(-2, 1) + ½ N(2, 1)
        return rng.normal(0.0, 1.0, n) + rng.choice([-2.0, 2.0], n), 0.0, math.sqrt(5.0)
    if dist == "student_t":  # 5 degrees of freedom
        return rng.standard_t(5, n), 0.0, math.sqrt(5 / 3)
    if dist == "rounded":  # N(50, 10) rounded to 0.1: many ties
        return rng.normal(50.0, 10.0, n).round(1), 50.0, 10.0
    if dist == "offset":  # N(1000, 0.01): large values, small spread
        return rng.normal(1000.0, 0.01, n), 1000.0, 0.01
    raise ValueError(dist)


def write_data(n: int, folder: Path, seed: int) -> tuple[Path, Path]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng([seed, n])
    reference, current = {}, {}
    for name, spec in zip(NAMES, COLUMNS, strict=True):
        reference[name], _, _ = sample(spec.dist, n, rng)
        values, mean, std = sample(spec.dist, n, rng)
        values = mean + (values - mean) * spec.scale + spec.shift * std
        if spec.dist == "rounded":
            values = values.round(1)
        current[name] = values
    paths = folder / f"reference-{n}.parquet", folder / f"current-{n}.parquet"
    for path, data in zip(paths, (reference, current), strict=True):
        pq.write_table(pa.table(data), path)
    return paths


# ---------------------------------------------------------------- measured in a subprocess


def rss_mb(field: str) -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM
    except OSError:
        return False
    return True


def measure(run: Callable[[], Any], repeat: int) -> tuple[Any, dict[str, Any]]:
    base = rss_mb("VmRSS")
    peak_reset = reset_peak()
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        result = run()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - cpu0)
    process_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result, {
        "seconds": statistics.median(walls),
        "all_seconds": walls,
        "cpu_seconds": statistics.median(cpus),
        "base_mb": base,
        "peak_mb": (rss_mb("VmHWM") if peak_reset else 0.0) or process_peak,
        "process_peak_mb": process_peak,
    }


def from_report(report: Any) -> dict[str, dict[str, Any]]:
    columns = {}
    for column in report.columns:
        r = column.result
        if r is None:
            raise SystemExit(f"column {column.name}: {column.status} {column.message}")
        columns[column.name] = {
            "test": r.test,
            "score": float(r.score),
            "statistic": float(r.statistic),
            "low": float(r.low),
            "high": float(r.high),
            # bool(): profile-mode Wasserstein gives numpy.bool_ (not JSON-serialisable)
            "drifted": bool(r.drifted),
            "certain": bool(r.certain),
        }
    return columns


def worker(mode: str, test: str, reference: str, current: str, profile: str, repeat: int) -> None:
    import numpy as np

    out: dict[str, Any] = {}
    if mode == "scipy":
        import pyarrow.parquet as pq
        from scipy import stats

        ref_arrow, cur_arrow = pq.read_table(reference), pq.read_table(current)
        ref_cols = {n: ref_arrow.column(n).to_numpy() for n in NAMES}
        cur_cols = {n: cur_arrow.column(n).to_numpy() for n in NAMES}
        del ref_arrow, cur_arrow

        def loop() -> dict[str, dict[str, Any]]:
            columns = {}
            for name in NAMES:
                ref, cur = ref_cols[name], cur_cols[name]
                if test == "wasserstein":
                    score = stats.wasserstein_distance(ref, cur) / max(float(np.std(ref)), 0.001)
                    drifted = score >= THRESHOLDS[test]
                else:
                    score = float(stats.ks_2samp(ref, cur).pvalue)
                    drifted = score < THRESHOLDS[test]
                columns[name] = {"test": test, "score": float(score), "drifted": bool(drifted)}
            return columns

        out["columns"], stats_ = measure(loop, repeat)
        out |= stats_
    else:
        from firewatch.drift import (
            DriftOptions,
            Profile,
            build_profile,
            check_profile,
            check_tables,
            read_table,
        )

        options = DriftOptions() if test == "wasserstein" else DriftOptions(test=test)
        if mode == "exact":
            ref_table, cur_table = read_table(reference), read_table(current)
            report, stats_ = measure(lambda: check_tables(ref_table, cur_table, options), repeat)
            out["columns"] = from_report(report)
        elif mode == "build":
            ref_table = read_table(reference)
            built, stats_ = measure(lambda: build_profile(ref_table), repeat)
            built.save(profile)
            out["profile_bytes"] = Path(profile).stat().st_size
        elif mode == "profile":
            stored, cur_table = Profile.load(profile), read_table(current)
            report, stats_ = measure(lambda: check_profile(stored, cur_table, options), repeat)
            out["columns"] = from_report(report)
        else:
            raise SystemExit(f"unknown mode {mode}")
        out |= stats_
    json.dump(out, sys.stdout)


# ---------------------------------------------------------------- orchestration


def evidently_python() -> Path:
    """The Evidently virtualenv's interpreter, creating the virtualenv if it is missing."""
    python = EVIDENTLY_VENV / "bin" / "python"
    check = [str(python), "-c", "import evidently, pandas; print(evidently.__version__)"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"creating {EVIDENTLY_VENV} with {' '.join(EVIDENTLY_SPEC)} …", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", *EVIDENTLY_SPEC],
        capture_output=True,
        text=True,
    )
    if install.returncode != 0:
        sys.exit(f"pip install failed:\n{install.stdout}{install.stderr}")
    subprocess.run(check, check=True, capture_output=True)
    return python


def run_json(command: list[str]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def agreement(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
    if not a or not b or "columns" not in a or "columns" not in b:
        return "—"
    same = sum(a["columns"][n]["drifted"] == b["columns"][n]["drifted"] for n in NAMES)
    return f"{same}/{len(NAMES)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="rows of each side")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the fast engines (median)")
    parser.add_argument("--evidently-repeat", type=int, default=1)
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--tests", default=",".join(TESTS), help="wasserstein,ks")
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--test", default="wasserstein", help=argparse.SUPPRESS)
    parser.add_argument("--reference", help=argparse.SUPPRESS)
    parser.add_argument("--current", help=argparse.SUPPRESS)
    parser.add_argument("--profile", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.test, args.reference, args.current, args.profile, args.repeat)
        return

    started = os.getloadavg()[0]
    sizes = [int(s) for s in args.sizes.split(",")]
    tests = args.tests.split(",")
    python = None if args.skip_evidently else evidently_python()
    rows: list[tuple[int, str, str, dict[str, Any], dict[str, Any] | None]] = []
    details: dict[tuple[int, str], dict[str, dict[str, Any]]] = {}
    profile_bytes: dict[int, int] = {}
    with tempfile.TemporaryDirectory(prefix="firewatch-drift-") as tmp:
        for n in sizes:
            t0 = time.perf_counter()
            reference, current = write_data(n, Path(tmp), args.seed)
            print(f"{n:,} rows × {len(NAMES)}: data written in {time.perf_counter() - t0:.1f} s")
            profile = str(Path(tmp) / f"profile-{n}.json")
            me = [sys.executable, __file__, "--reference", str(reference)]
            me += ["--current", str(current), "--profile", profile]

            def fast(mode: str, test: str, me: list[str] = me) -> dict[str, Any]:
                return run_json(
                    [*me, "--worker", mode, "--test", test, "--repeat", str(args.repeat)]
                )

            build = fast("build", "wasserstein")
            profile_bytes[n] = build["profile_bytes"]
            rows.append((n, "firewatch build (once)", "—", build, None))
            print(f"  firewatch build   {build['seconds']:7.2f} s", flush=True)
            for test in tests:
                found: dict[str, dict[str, Any]] = {}
                if python is not None:
                    command = [str(python), str(HERE / "evidently_run.py"), str(reference)]
                    command += [str(current), "--repeat", str(args.evidently_repeat)]
                    if test != "wasserstein":
                        command += ["--method", test]
                    found["evidently"] = run_json(command)
                    print(
                        f"  evidently {test:11} {found['evidently']['seconds']:7.2f} s", flush=True
                    )
                for mode in ("scipy", "exact", "profile"):
                    found[mode] = fast(mode, test)
                    print(f"  {mode:9} {test:11} {found[mode]['seconds']:7.2f} s", flush=True)
                baseline = found.get("evidently") or found["scipy"]
                for mode in ("evidently", "scipy", "exact", "profile"):
                    if mode in found:
                        label = {"exact": "firewatch exact", "profile": "firewatch profile"}
                        rows.append((n, label.get(mode, mode), test, found[mode], baseline))
                        details[(n, f"{mode}/{test}")] = found[mode]["columns"]
                found["profile"]["vs_exact"] = agreement(found["profile"], found["exact"])

    for _, engine, _, r, _ in rows:
        if engine == "evidently":
            print(f"\nEvidently: {r['engine']}, pandas {r['pandas']}")
            break
    print_table(rows, profile_bytes, args.repeat, args.evidently_repeat)
    print(f"load average (1 min) at start {started:.2f}, at end {os.getloadavg()[0]:.2f}")
    for n in sizes:
        print_details(n, details, tests)


def print_table(
    rows: list[tuple[int, str, str, dict[str, Any], dict[str, Any] | None]],
    profile_bytes: dict[int, int],
    repeat: int,
    evidently_repeat: int,
) -> None:
    print(
        f"\nDrift, {len(NAMES)} float columns (10 changed), wall = median of {repeat} "
        f"(Evidently: {evidently_repeat}), reading the files excluded"
    )
    print(
        f"{'rows':>9}  {'engine':24}{'test':12}{'wall s':>8}{'cpu s':>7}{'base MB':>9}"
        f"{'peak MB':>9}{'speed-up':>10}{'agree':>7}{'max Δscore':>11}{'vs exact':>9}{'certain':>8}"
    )
    evidently = {(n, t): r["seconds"] for n, e, t, r, _ in rows if e == "evidently"}
    for n, engine, test, r, baseline in rows:
        reference = evidently.get((n, test)) or evidently.get((n, "wasserstein"))
        speedup = f"{reference / r['seconds']:,.0f}×" if reference else "—"
        if engine == "evidently":
            speedup = "1×"
        elif test == "—":
            speedup = "—"  # built once per reference
        agree = "—" if engine == "evidently" or baseline in (None, r) else agreement(r, baseline)
        delta = "—"
        if agree != "—" and baseline is not None:
            worst = max(
                abs(r["columns"][c]["score"] - baseline["columns"][c]["score"]) for c in NAMES
            )
            delta = f"{worst:.1e}"
        certain = "—"
        if engine == "firewatch profile":
            certain = f"{sum(c['certain'] for c in r['columns'].values())}/{len(NAMES)}"
        print(
            f"{n:>9,}  {engine:24}{test:12}{r['seconds']:>8.3f}{r['cpu_seconds']:>7.2f}"
            f"{r['base_mb']:>9.0f}{r['peak_mb']:>9.0f}{speedup:>10}{agree:>7}{delta:>11}"
            f"{r.get('vs_exact', '—'):>9}{certain:>8}"
        )
    for n, size in profile_bytes.items():
        print(f"profile JSON of {n:,} rows: {size / 1e6:.2f} MB")


def print_details(
    n: int, details: dict[tuple[int, str], dict[str, dict[str, Any]]], tests: list[str]
) -> None:
    """Per column: each engine's score and verdict (* = drift; ? = profile verdict not certain)."""
    print(f"\nPer column, {n:,} rows (score, * drift, ? profile verdict uncertain)")
    head = f"{'col':4}{'dist':12}{'change':13}"
    keys = []
    for test in tests:
        for mode in ("evidently", "scipy", "exact", "profile"):
            if (n, f"{mode}/{test}") in details:
                keys.append(f"{mode}/{test}")
                head += f"{mode[:4] + '/' + test[:4]:>14}"
    print(head)
    for name, spec in zip(NAMES, COLUMNS, strict=True):
        line = f"{name[1:]:4}{spec.dist:12}{spec.change:13}"
        for key in keys:
            c = details[(n, key)][name]
            mark = "*" if c["drifted"] else " "
            if key.startswith("profile") and not c["certain"]:
                mark += "?"
            line += f"{c['score']:>12.4g}{mark:2}"
        print(line.rstrip())


if __name__ == "__main__":
    main()
