"""Real processes for end-to-end tests and benchmarks: `firewatch serve` and `firewatch demo-model`
started as subprocesses on free loopback ports, driven only through their public interfaces."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from support.servers import free_port


@dataclass
class Stack:
    api: str
    model_url: str
    token: str
    workdir: Path
    env: dict[str, str]

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.api, headers={"Authorization": f"Bearer {self.token}"}, timeout=10
        )


def firewatch(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "firewatch", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def wait_http(
    url: str, *, ok: bool = True, timeout: float = 60, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            status = httpx.get(url, timeout=1).status_code
            if not ok or status < 300:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready in {timeout}s")


def model_config(name: str, model_url: str) -> dict[str, Any]:
    return {
        "name": name,
        "health_url": f"{model_url}/health",
        "probe": {
            "interval": "1s",
            "timeout": "1s",
            "failure_threshold": 2,
            "recovery_threshold": 2,
            "initial_delay": "2s",
        },
        # The scenarios deploy the bad version seconds after the good one was seen healthy: any
        # healthy period makes it "last known good" here (the product default is 5m).
        "rollback": {"min_healthy_time": "0s"},
    }


@contextmanager
def running_stack(
    workdir: Path,
    receiver_url: str,
    versions: list[tuple[str, list[str]]],
    *,
    model: str = "iris",
    quiet: str = "5s",
    configure: Callable[[dict[str, Any], str, str], None] | None = None,
    traffic_rps: float | None = None,
) -> Iterator[Stack]:
    """Firewatch (SQLite in ``workdir``) watching one demo model, notifying ``receiver_url``.

    ``versions`` (name, ["key=value" metadata]) are registered with the CLI and the first one
    deployed before anything starts, so the model serves from its first second. ``configure``
    may change the config dict (given the API and model URLs) before it is written; with
    ``traffic_rps`` the model reports its predictions and `firewatch demo-traffic` sends that
    load and the true labels.
    """
    api_port, model_port = free_port(), free_port()
    api, model_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{model_port}"
    config = {
        "server": {"port": api_port},
        "models": [model_config(model, model_url)],
        "channels": [
            {"type": "console", "name": "console"},
            {"type": "webhook", "name": "hook", "url": f"{receiver_url}/hook"},
        ],
        "notify": {
            "channels_for": {
                "page": ["hook"],
                "chat": ["hook"],
                "email": ["console"],
                "ticket": ["hook"],
            }
        },
        "incidents": {"resolve_quiet_period": quiet},
    }
    if configure is not None:
        configure(config, api, model_url)
    path = workdir / "firewatch.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {
        **os.environ,
        "FIREWATCH_DATABASE_URL": f"sqlite:///{workdir}/firewatch.db",
        "FIREWATCH_CONFIG": str(path),
        "PYTHONUNBUFFERED": "1",
    }
    created = firewatch(
        "token", "create", "--scope", "admin", "--name", "e2e", env=env, cwd=workdir
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    reader = firewatch(
        "token", "create", "--scope", "read", "--name", "demo-model", env=env, cwd=workdir
    ).stdout.strip()
    ingest = ""
    if traffic_rps is not None:
        ingest = firewatch(
            "token", "create", "--scope", "ingest", "--name", "events", env=env, cwd=workdir
        ).stdout.strip()
    for version, meta in versions:
        registered = firewatch(
            "model",
            "register",
            model,
            version,
            *[f"--meta={m}" for m in meta],
            env=env,
            cwd=workdir,
        )
        assert registered.returncode == 0, registered.stderr
    deployed = firewatch("model", "deploy", model, versions[0][0], env=env, cwd=workdir)
    assert deployed.returncode == 0, deployed.stderr
    logs = (
        (workdir / "serve.log").open("wb"),
        (workdir / "model.log").open("wb"),
        (workdir / "traffic.log").open("wb"),
    )
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # The model first: it keeps asking the registry until Firewatch is up.
        demo = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "firewatch",
                "demo-model",
                "--model",
                model,
                "--registry-url",
                api,
                "--port",
                str(model_port),
            ],
            env={**env, "FIREWATCH_TOKEN": reader, **_ingest(ingest)},
            cwd=workdir,
            stdout=logs[1],
            stderr=subprocess.STDOUT,
        )
        procs.append(demo)
        wait_http(f"{model_url}/health", ok=False, proc=demo)
        serve = subprocess.Popen(
            [sys.executable, "-m", "firewatch", "serve"],
            env=env,
            cwd=workdir,
            stdout=logs[0],
            stderr=subprocess.STDOUT,
        )
        procs.append(serve)
        wait_http(f"{api}/ready", proc=serve)
        wait_http(f"{model_url}/health", proc=demo)
        if traffic_rps is not None:
            procs.append(
                subprocess.Popen(
                    [
                        *(sys.executable, "-m", "firewatch", "demo-traffic", "--url", model_url),
                        *("--rps", str(traffic_rps), "--firewatch-url", api, "--model", model),
                    ],
                    env={**env, **_ingest(ingest)},
                    cwd=workdir,
                    stdout=logs[2],
                    stderr=subprocess.STDOUT,
                )
            )
        yield Stack(api, model_url, token, workdir, env)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs:
            log.close()


def _ingest(token: str) -> dict[str, str]:
    return {"FIREWATCH_INGEST_TOKEN": token} if token else {}


def wait_until(predicate: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def deploy_and_wait_healthy(client: httpx.Client, model: str, version: str) -> None:
    response = client.post(f"/api/v1/models/{model}/deploy", json={"version": version})
    response.raise_for_status()

    def healthy() -> bool:
        live = client.get(f"/api/v1/models/{model}").json()["production"]
        return bool(live and live["version"] == version and live["first_healthy_at"])

    wait_until(healthy, 30, f"{model} {version} to be seen healthy")
