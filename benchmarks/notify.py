"""Incident opened → notification received, over real processes.

Starts `firewatch serve` (SQLite, loopback) with one Standard-Webhooks-style JSON webhook for
chat, declares INCIDENTS SEV2 incidents through the API (CONCURRENCY at a time) and measures, for
each, the time from the API's 201 (the incident is committed) to the webhook's arrival at a
receiver in this process. Target (issue 5): p99 under 1 s.

    .venv/bin/python benchmarks/notify.py [--incidents 1000] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.processes import firewatch, wait_http, wait_until
from support.servers import free_port, serve_in_thread


class Arrivals:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.at: dict[str, float] = {}

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            now = time.monotonic()
            ref = orjson.loads(await request.body())["incident"]["id"]
            with self.lock:
                self.at.setdefault(ref, now)
            return Response("ok")

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


async def declare(api: str, token: str, count: int, concurrency: int) -> dict[str, float]:
    opened: dict[str, float] = {}
    gate = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=30) as client:

        async def one(n: int) -> None:
            async with gate:
                answer = await client.post(
                    "/api/v1/incidents",
                    json={"title": f"model-{n} error rate 7%", "severity": "SEV2"},
                )
                answer.raise_for_status()
                opened[answer.json()["id"]] = time.monotonic()

        await asyncio.gather(*(one(n) for n in range(count)))
    return opened


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    arrivals = Arrivals()
    with tempfile.TemporaryDirectory() as tmp, serve_in_thread(arrivals.app()) as receiver:
        workdir = Path(tmp)
        port = free_port()
        config = {
            "server": {"port": port},
            "channels": [{"type": "webhook", "name": "hook", "url": f"{receiver}/hook"}],
            "notify": {"channels_for": {"page": [], "chat": ["hook"], "email": [], "ticket": []}},
        }
        (workdir / "firewatch.yaml").write_text(yaml.safe_dump(config))
        env = {
            **os.environ,
            "FIREWATCH_DATABASE_URL": f"sqlite:///{workdir}/fw.db",
            "FIREWATCH_CONFIG": str(workdir / "firewatch.yaml"),
        }
        token = firewatch("token", "create", "--scope", "write", env=env, cwd=workdir)
        with (workdir / "serve.log").open("wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "firewatch", "serve"],
                env=env,
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        api = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{api}/ready", proc=server)
            started = time.monotonic()
            opened = asyncio.run(
                declare(api, token.stdout.strip(), args.incidents, args.concurrency)
            )
            wait_until(lambda: len(arrivals.at) >= len(opened), 120, "every notification")
            elapsed = time.monotonic() - started
        finally:
            server.terminate()
            server.wait(15)
    latencies = [arrivals.at[ref] - at for ref, at in opened.items()]
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    print(
        f"\nIncident opened → webhook received, {len(latencies):,} SEV2 incidents, "
        f"{args.concurrency} declared at a time, SQLite (WAL), one process"
    )
    print(f"{'p50':>8}{'p99':>9}{'max':>9}{'mean':>9}{'incidents/s':>13}{'p99 target':>12}")
    print(
        f"{p50 * 1000:>6.0f}ms{p99 * 1000:>7.0f}ms{max(latencies) * 1000:>7.0f}ms"
        f"{statistics.fmean(latencies) * 1000:>7.0f}ms{len(latencies) / elapsed:>13.1f}"
        f"{'< 1000ms':>12}  {'met' if p99 < 1 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
