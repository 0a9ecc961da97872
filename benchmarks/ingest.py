"""Alert ingest: Firewatch's Alertmanager-webhook endpoint vs the real Alertmanager's
``POST /api/v2/alerts``, same machine, same closed-loop load generator.

Two workloads, batches of 64 alerts, ``--clients`` load processes each sending one batch at a
time: ``pool`` re-sends 10k distinct alerts over and over (what Prometheus does), ``new`` sends
ever-new alerts. Reports alerts/s, request latency p50/p99, the server's peak memory, and for
Firewatch the processing lag (alerts accepted but not yet processed) during and after the run.
Firewatch commits every batch (SQLite, WAL) before it answers.

    .venv/bin/python benchmarks/ingest.py [--seconds 60] [--clients 2] [--only firewatch]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from firewatch.alerts.fingerprint import fingerprint
from support.servers import free_port

BATCH = 64
POOL = 10_000
ZERO = "0001-01-01T00:00:00Z"


@dataclass
class Target:
    name: str
    host: str
    port: int
    path: str
    headers: dict[str, str]
    pid: int
    webhook: bool  # Firewatch gets Alertmanager webhook bodies; Alertmanager gets API v2 arrays


def labels_for(n: int) -> dict[str, str]:
    return {
        "alertname": ("HighErrorRate", "SlowResponses", "FeatureDrift", "AccuracyLow")[n % 4],
        "model": f"model-{n % 100}",
        "severity": ("critical", "warning")[n % 2],
        "instance": f"pod-{n}",
        "job": "model-server",
    }


def body_for(first: int, webhook: bool, starts: str) -> bytes:
    alerts = []
    for n in range(first, first + BATCH):
        labels = labels_for(n)
        alert: dict[str, Any] = {
            "labels": labels,
            "annotations": {"summary": f"alert {n}"},
            "startsAt": starts,
            "generatorURL": "http://prometheus/graph",
        }
        fp = fingerprint(labels)  # for both servers, so the load costs the client the same
        if webhook:
            alert |= {"status": "firing", "endsAt": ZERO, "fingerprint": fp}
        alerts.append(alert)
    if not webhook:
        return orjson.dumps(alerts)
    return orjson.dumps(
        {
            "receiver": "firewatch",
            "status": "firing",
            "alerts": alerts,
            "groupLabels": {},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://am",
            "version": "4",
            "groupKey": "{}",
            "truncatedAlerts": 0,
        }
    )


def client(target: Target, workload: str, seconds: float, worker: int, out: Any) -> None:
    starts = datetime.now(UTC).isoformat()
    pool = (
        [body_for(i * BATCH, target.webhook, starts) for i in range(POOL // BATCH)]
        if workload == "pool"
        else []
    )
    conn = http.client.HTTPConnection(target.host, target.port, timeout=30)
    headers = {"Content-Type": "application/json", **target.headers}
    latencies: list[float] = []
    errors = sent = 0
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        if workload == "pool":
            body = pool[n % len(pool)]
        else:
            body = body_for((worker * 10**9) + n * BATCH, target.webhook, starts)
        n += 1
        t0 = time.perf_counter()
        conn.request("POST", target.path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - t0)
        if response.status >= 300:
            errors += 1
        else:
            sent += BATCH
    out.put((sent, errors, latencies))


def rss_mb(pid: int) -> float:
    """Resident memory of the process and its children (a separate alert processor)."""
    total = 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += rss_mb(int(child))
    except OSError:
        pass
    return total


def backlog(target: Target) -> tuple[float, float] | None:
    """Firewatch's alerts accepted but not processed yet, and the oldest one's age in seconds."""
    if target.webhook is False:
        return None
    try:
        conn = http.client.HTTPConnection(target.host, target.port, timeout=5)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        conn.close()
    except OSError:
        return None
    found = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("firewatch_alert_backlog", "firewatch_alert_backlog_age_seconds"):
            found[name] = float(value)
    return found["firewatch_alert_backlog"], found["firewatch_alert_backlog_age_seconds"]


def run(target: Target, workload: str, seconds: float, clients: int) -> dict[str, Any]:
    ctx = mp.get_context("fork")
    out: Any = ctx.Queue()
    procs = [
        ctx.Process(target=client, args=(target, workload, seconds, w, out)) for w in range(clients)
    ]
    peak_rss = 0.0
    lags: list[tuple[float, float]] = []
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak_rss
        while not stop.is_set():
            peak_rss = max(peak_rss, rss_mb(target.pid))
            if (lag := backlog(target)) is not None:
                lags.append(lag)
            stop.wait(1.0)

    watcher = threading.Thread(target=watch, daemon=True)
    started = time.monotonic()
    for p in procs:
        p.start()
    watcher.start()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    elapsed = time.monotonic() - started
    for p in procs:
        p.join()
    drain = 0.0
    if target.webhook:  # how long until every accepted alert is processed
        t0 = time.monotonic()
        while (lag := backlog(target)) and lag[0] > 0 and time.monotonic() - t0 < 300:
            time.sleep(0.2)
        drain = time.monotonic() - t0
    stop.set()
    watcher.join()
    latencies = sorted(x for _, _, lat in results for x in lat)
    return {
        "alerts_per_s": sum(s for s, _, _ in results) / elapsed,
        "errors": sum(e for _, e, _ in results),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "rss_mb": peak_rss,
        "max_backlog": max(n for n, _ in lags) if lags else None,
        "max_lag_s": max(age for _, age in lags) if lags else None,
        "drain_s": drain if target.webhook else None,
    }


@contextmanager
def alertmanager() -> Iterator[Target]:
    binary = shutil.which("prometheus-alertmanager")
    if binary is None:
        sys.exit("prometheus-alertmanager is not installed (make test-servers installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "am.yml"
        config.write_text(
            yaml.safe_dump(
                {"route": {"receiver": "blackhole"}, "receivers": [{"name": "blackhole"}]}
            )
        )
        port = free_port()
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={tmp}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--web.external-url=http://127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait(f"127.0.0.1:{port}", "/-/ready")
            yield Target(
                "alertmanager", "127.0.0.1", port, "/api/v2/alerts", {}, proc.pid, webhook=False
            )
        finally:
            proc.terminate()
            proc.wait(15)


@contextmanager
def firewatch(processor: str = "thread") -> Iterator[Target]:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        config = {"server": {"port": port}, "alerts": {"processor": processor}}
        (Path(tmp) / "fw.yaml").write_text(yaml.safe_dump(config))
        env = {
            **os.environ,
            "FIREWATCH_DATABASE_URL": f"sqlite:///{tmp}/fw.db",
            "FIREWATCH_CONFIG": f"{tmp}/fw.yaml",
        }
        fw = [sys.executable, "-m", "firewatch"]
        token = subprocess.run(
            [*fw, "token", "create", "--scope", "ingest"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        proc = subprocess.Popen(
            [*fw, "serve", "--log-level", "warning"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait(f"127.0.0.1:{port}", "/ready")
            yield Target(
                f"firewatch/{processor}",
                "127.0.0.1",
                port,
                "/api/v1/integrations/alertmanager",
                {"Authorization": f"Bearer {token}"},
                proc.pid,
                webhook=True,
            )
        finally:
            proc.terminate()
            proc.wait(30)


def wait(hostport: str, path: str) -> None:
    host, port = hostport.split(":")
    for _ in range(300):
        try:
            conn = http.client.HTTPConnection(host, int(port), timeout=1)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{hostport}{path} did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--only", help="firewatch, firewatch/process, alertmanager, ...")
    parser.add_argument("--workloads", default="pool,new")
    args = parser.parse_args()
    servers = {
        "alertmanager": alertmanager,
        "firewatch/thread": lambda: firewatch("thread"),
        "firewatch/process": lambda: firewatch("process"),
    }
    rows = []
    for workload in args.workloads.split(","):
        for name, start in servers.items():
            if args.only and not name.startswith(args.only):
                continue
            with start() as target:
                result = run(target, workload, args.seconds, args.clients)
            rows.append((workload, name, result))
            print(
                f"{workload:5} {name:18} {result['alerts_per_s']:>9,.0f} alerts/s  p50 {result['p50_ms']:.1f} ms  "
                f"p99 {result['p99_ms']:.1f} ms  rss {result['rss_mb']:.0f} MB  errors {result['errors']}",
                flush=True,
            )
    print(
        f"\nIngest, batches of {BATCH}, {args.clients} closed-loop clients, {args.seconds:g} s per run"
    )
    print(
        f"{'workload':9}{'server':19}{'alerts/s':>10}{'p50 ms':>8}{'p99 ms':>8}{'peak MB':>9}{'max lag':>9}{'lag s':>7}{'drain s':>8}{'503s':>6}{'ratio':>7}"
    )
    base = {w: r["alerts_per_s"] for w, n, r in rows if n == "alertmanager"}
    for workload, name, r in rows:
        ratio = f"{r['alerts_per_s'] / base[workload]:.2f}×" if workload in base else "—"
        lag = f"{r['max_backlog']:,.0f}" if r["max_backlog"] is not None else "—"
        lag_s = f"{r['max_lag_s']:.1f}" if r["max_lag_s"] is not None else "—"
        drain = f"{r['drain_s']:.1f}" if r["drain_s"] is not None else "—"
        print(
            f"{workload:9}{name:19}{r['alerts_per_s']:>10,.0f}{r['p50_ms']:>8.1f}{r['p99_ms']:>8.1f}{r['rss_mb']:>9.0f}{lag:>9}{lag_s:>7}{drain:>8}{r['errors']:>6}{ratio:>7}"
        )


if __name__ == "__main__":
    main()
