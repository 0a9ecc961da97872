"""kill -9 the server under ingest load: after a restart, every alert that got a 2xx is stored
(the journal commit comes before the answer; the processor finishes what it had not done)."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest
import yaml
from sqlalchemy import select

from firewatch.alerts.models import AlertRow
from firewatch.store.db import Database
from support.processes import firewatch, wait_http, wait_until
from support.servers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

BATCH = 32
ZERO = "0001-01-01T00:00:00Z"


def body(sender: int, n: int) -> bytes:
    alerts = [
        {
            "status": "firing",
            "labels": {
                "alertname": "HighErrorRate",
                "model": f"model-{i % 5}",
                "severity": "warning",
                "instance": f"s{sender}-{n}-{i}",
            },
            "annotations": {"summary": "errors"},
            "startsAt": "2026-11-27T10:00:00Z",
            "endsAt": ZERO,
        }
        for i in range(BATCH)
    ]
    return orjson.dumps({"version": "4", "status": "firing", "receiver": "fw", "alerts": alerts})


def sender(port: int, token: str, number: int, acked: set[str], stop: threading.Event) -> None:
    """Sends batches until the server dies; remembers the instances of every 2xx batch."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    n = 0
    try:
        while not stop.is_set():
            try:
                conn.request(
                    "POST",
                    "/api/v1/integrations/alertmanager",
                    body=body(number, n),
                    headers=headers,
                )
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                return  # the server is gone: what was not answered is the sender's to retry
            if 200 <= response.status < 300:
                acked.update(f"s{number}-{n}-{i}" for i in range(BATCH))
            n += 1
    finally:
        conn.close()


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def start(workdir: Path, env: dict[str, str], log: str) -> subprocess.Popen[bytes]:
    with (workdir / log).open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "firewatch", "serve", "--log-level", "warning"],
            env=env,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stored_instances(url: str) -> set[str]:
    db = Database(url)
    try:
        with db.read_session() as session:
            return {labels["instance"] for labels in session.scalars(select(AlertRow.labels))}
    finally:
        db.dispose()


def backlog(port: int) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    for line in text.splitlines():
        if line.startswith("firewatch_alert_backlog "):
            return float(line.split()[1])
    raise AssertionError("no firewatch_alert_backlog in /metrics")


@pytest.mark.parametrize("processor", ["thread", "process"])
def test_every_acknowledged_alert_survives_kill_9(tmp_path: Path, processor: str) -> None:
    port = free_port()
    config = {"server": {"port": port}, "alerts": {"processor": processor}}
    (tmp_path / "firewatch.yaml").write_text(yaml.safe_dump(config))
    url = f"sqlite:///{tmp_path}/fw.db"
    env = {
        **os.environ,
        "FIREWATCH_DATABASE_URL": url,
        "FIREWATCH_CONFIG": str(tmp_path / "firewatch.yaml"),
    }
    token = firewatch("token", "create", "--scope", "ingest", env=env, cwd=tmp_path).stdout.strip()
    server = start(tmp_path, env, "serve-1.log")
    wait_http(f"http://127.0.0.1:{port}/ready", proc=server)

    acked: set[str] = set()
    stop = threading.Event()
    senders = [
        threading.Thread(target=sender, args=(port, token, number, acked, stop))
        for number in range(4)
    ]
    for thread in senders:
        thread.start()
    wait_until(lambda: len(acked) >= 20 * BATCH, 60, "alerts flowing")
    time.sleep(1.0)
    children = children_of(server.pid)
    server.send_signal(signal.SIGKILL)  # mid-flight: requests in progress, a backlog pending
    server.wait(10)
    # A processor process notices its server is gone and stops (no orphan keeps processing).
    wait_until(lambda: not any(Path(f"/proc/{c}").exists() for c in children), 30, "no orphan")
    stop.set()
    for thread in senders:
        thread.join(15)
    assert len(acked) >= 20 * BATCH

    server = start(tmp_path, env, "serve-2.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/ready", proc=server)
        wait_until(lambda: backlog(port) == 0, 120, "the backlog processed", interval=0.2)
        missing = acked - stored_instances(url)
        assert not missing, f"{len(missing)} acknowledged alerts lost, e.g. {sorted(missing)[:5]}"
    finally:
        server.terminate()
        server.wait(30)
