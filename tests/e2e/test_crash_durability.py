"""kill -9 the server while a page is being retried: after a restart it is still delivered,
with the same idempotency id (the delivery lives in the job table, not in memory)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from support.processes import firewatch, wait_http, wait_until
from support.receiver import Receiver
from support.servers import free_port, serve_in_thread

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def start(workdir: Path, env: dict[str, str], log: str) -> subprocess.Popen[bytes]:
    with (workdir / log).open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "firewatch", "serve"],
            env=env,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_a_page_survives_kill_9(tmp_path: Path) -> None:
    # The receiver fails the first three attempts: the delivery is pending a retry when we kill.
    receiver = Receiver(responses=[(503, {}), (503, {}), (503, {})])
    port = free_port()
    with serve_in_thread(receiver.app()) as receiver_url:
        config = {
            "server": {"port": port},
            "channels": [{"type": "webhook", "name": "hook", "url": f"{receiver_url}/hook"}],
            "notify": {"channels_for": {"page": ["hook"], "chat": [], "email": [], "ticket": []}},
        }
        (tmp_path / "firewatch.yaml").write_text(yaml.safe_dump(config))
        env = {
            **os.environ,
            "FIREWATCH_DATABASE_URL": f"sqlite:///{tmp_path}/fw.db",
            "FIREWATCH_CONFIG": str(tmp_path / "firewatch.yaml"),
        }
        token = firewatch(
            "token", "create", "--scope", "write", env=env, cwd=tmp_path
        ).stdout.strip()
        api = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {token}"}

        server = start(tmp_path, env, "serve-1.log")
        wait_http(f"{api}/ready", proc=server)
        declared = httpx.post(
            f"{api}/api/v1/incidents",
            json={"title": "Model down", "severity": "SEV1"},
            headers=headers,
        )
        assert declared.status_code == 201
        wait_until(lambda: len(receiver.received) >= 1, 20, "the first (failed) attempt")
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        attempts_before = len(receiver.received)

        server = start(tmp_path, env, "serve-2.log")
        try:
            wait_http(f"{api}/ready", proc=server)
            # The retry is in the job table: the new process picks it up (after the old lease
            # runs out if the dead process was mid-attempt) and the fourth attempt gets a 200.
            wait_until(
                lambda: len(receiver.received) >= 4, 120, "the page after the restart", interval=0.2
            )
            assert attempts_before < 4
            ids = {r.headers["idempotency-key"] for r in receiver.received}
            assert len(ids) == 1, "every attempt carries the same idempotency id"
            ref = declared.json()["id"]

            def notified() -> bool:
                incident = httpx.get(f"{api}/api/v1/incidents/{ref}", headers=headers).json()
                return any(e["kind"] == "notified" for e in incident["timeline"])

            wait_until(notified, 20, "the notified entry on the timeline")
        finally:
            server.terminate()
            server.wait(15)
