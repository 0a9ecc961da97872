"""kill -9 the server while 100 notifications are pending against a slow receiver: after a
restart every one arrives at least once, and a notification that arrives twice carries the same
idempotency id both times (the deliveries live in the job table, not in memory)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import httpx
import orjson
import pytest
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from support.processes import firewatch, wait_http, wait_until
from support.servers import free_port, serve_in_thread

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
INCIDENTS = 100


class SlowReceiver:
    """Takes 3 s to answer each POST, recording (idempotency key, incident) as it arrives."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.keys: list[tuple[str, str]] = []

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            body = orjson.loads(await request.body())
            with self.lock:
                self.keys.append((request.headers["idempotency-key"], body["incident"]["id"]))
            await asyncio.sleep(3)
            return Response("ok")

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])

    def incidents(self) -> set[str]:
        with self.lock:
            return {incident for _, incident in self.keys}


async def declare(api: str, headers: dict[str, str]) -> list[str]:
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=30) as client:

        async def one(n: int) -> str:
            declared = await client.post(
                "/api/v1/incidents", json={"title": f"model-{n} degraded", "severity": "SEV2"}
            )
            assert declared.status_code == 201, declared.text
            return str(declared.json()["id"])

        return list(await asyncio.gather(*(one(n) for n in range(INCIDENTS))))


def unfinished(workdir: Path) -> int:
    with sqlite3.connect(workdir / "fw.db") as db:
        row = db.execute(
            "SELECT count(*) FROM jobs WHERE kind = 'notify.deliver' "
            "AND status IN ('pending', 'running')"
        ).fetchone()
    return int(row[0])


def start(workdir: Path, env: dict[str, str], log: str) -> subprocess.Popen[bytes]:
    with (workdir / log).open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "firewatch", "serve"],
            env=env,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_100_pending_notifications_survive_kill_9(tmp_path: Path) -> None:
    receiver = SlowReceiver()
    port = free_port()
    with serve_in_thread(receiver.app()) as receiver_url:
        config = {
            "server": {"port": port},
            "channels": [{"type": "webhook", "name": "hook", "url": f"{receiver_url}/hook"}],
            # SEV2: one chat message per incident, nothing else
            "notify": {"channels_for": {"page": [], "chat": ["hook"], "email": [], "ticket": []}},
        }
        (tmp_path / "firewatch.yaml").write_text(yaml.safe_dump(config))
        env = {
            **os.environ,
            "FIREWATCH_DATABASE_URL": f"sqlite:///{tmp_path}/fw.db",
            "FIREWATCH_CONFIG": str(tmp_path / "firewatch.yaml"),
        }
        token = firewatch("token", "create", "--scope", "write", env=env, cwd=tmp_path)
        headers = {"Authorization": f"Bearer {token.stdout.strip()}"}
        api = f"http://127.0.0.1:{port}"

        server = start(tmp_path, env, "serve-1.log")
        try:
            wait_http(f"{api}/ready", proc=server)
            refs = asyncio.run(declare(api, headers))
            wait_until(lambda: len(receiver.keys) >= 10, 60, "the first deliveries")
        finally:
            server.send_signal(signal.SIGKILL)
            server.wait(10)
        delivered_before = len(receiver.incidents())
        assert delivered_before < INCIDENTS, "the kill came too late to test anything"

        server = start(tmp_path, env, "serve-2.log")
        try:
            wait_http(f"{api}/ready", proc=server)
            wait_until(
                lambda: receiver.incidents() >= set(refs),
                180,
                "every notification after the restart",
                interval=0.2,
            )
            # The ones in flight at the kill come again once their lease runs out (30 s).
            wait_until(lambda: unfinished(tmp_path) == 0, 120, "every delivery done", interval=0.5)
        finally:
            server.terminate()
            server.wait(15)

    per_key = Counter(key for key, _ in receiver.keys)
    incidents_of_key: dict[str, set[str]] = {}
    for key, incident in receiver.keys:
        incidents_of_key.setdefault(key, set()).add(incident)
    assert len(per_key) == INCIDENTS  # one notification per incident, each its own id
    assert all(len(found) == 1 for found in incidents_of_key.values())
    duplicates = sum(n - 1 for n in per_key.values())
    assert duplicates >= 1, "the deliveries in flight at the kill were not sent again"
    print(f"\n{delivered_before} arrived before the kill; {duplicates} arrived twice, same id")
