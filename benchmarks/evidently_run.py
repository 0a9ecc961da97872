"""Evidently's ``DataDriftPreset`` on a reference and a current Parquet file, for
``benchmarks/drift.py``. Runs inside the benchmark's own virtualenv (``benchmarks/.venv-evidently``,
Evidently 0.7 and pandas < 3), never imports Firewatch, and prints one JSON object on stdout:
the drift computation's wall and CPU seconds (reading the files excluded), the resident memory
after loading and at peak during the computation, and per column the method, threshold, score
and Evidently's own verdict (its per-column ``ValueDrift`` test: FAIL means drift).

    benchmarks/.venv-evidently/bin/python benchmarks/evidently_run.py REF.parquet CUR.parquet [--method ks]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any


def rss_mb(field: str) -> float:
    """VmRSS / VmHWM of this process from /proc, in MB (0 where /proc is unavailable)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM), so the peak covers the computation only."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference")
    parser.add_argument("current")
    parser.add_argument("--method", help="one drift method for every column (default: Evidently's)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    warnings.filterwarnings("ignore")
    import evidently
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    reference = pd.read_parquet(args.reference)
    current = pd.read_parquet(args.current)
    base = rss_mb("VmRSS")
    peak_reset = reset_peak()
    walls, cpus = [], []
    result: dict[str, Any] = {}
    for _ in range(args.repeat):
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        report = Report([DataDriftPreset(method=args.method)], include_tests=True)
        snapshot = report.run(current_data=current, reference_data=reference)
        result = snapshot.dict()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - cpu0)
    process_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # loading included
    peak = (rss_mb("VmHWM") if peak_reset else 0.0) or process_peak

    columns: dict[str, dict[str, Any]] = {}
    for metric in result["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith(":ValueDrift"):
            columns[config["column"]] = {
                "method": config.get("method"),
                "threshold": config.get("threshold"),
                "score": float(metric["value"]),
            }
    for test in result["tests"]:
        params = test.get("metric_config", {}).get("params", {})
        if params.get("type", "").endswith(":ValueDrift") and params.get("column") in columns:
            columns[params["column"]]["drifted"] = test["status"] == "FAIL"
    missing = [name for name, column in columns.items() if "drifted" not in column]
    if missing:
        sys.exit(f"no ValueDrift test result for {missing}")
    json.dump(
        {
            "engine": f"evidently {evidently.__version__}",
            "pandas": pd.__version__,
            "seconds": statistics.median(walls),
            "all_seconds": walls,
            "cpu_seconds": statistics.median(cpus),
            "base_mb": base,
            "peak_mb": peak,
            "process_peak_mb": process_peak,
            "columns": columns,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
