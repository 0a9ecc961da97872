"""Real Prometheus 2.42 and Alertmanager 0.25 on loopback for tests, plus the demo model to scrape.

Each server is the Debian binary (``scripts/test-servers.sh`` installs it) started on a free port
with its config, storage and log in a temporary directory, polled at ``/-/ready`` until a deadline
(the failure message ends with the log's tail), and always terminated. A missing binary skips the
test loudly, or fails it under ``CI=true`` (as ``tests/conftest.py`` does for PostgreSQL).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from firewatch.demo.app import create_demo_app
from support.demo_registry import FakeRegistry
from support.receiver import Received, Receiver
from support.servers import free_port, serve_in_thread

PROMETHEUS_BIN = "/usr/bin/prometheus"
ALERTMANAGER_BIN = "/usr/bin/prometheus-alertmanager"
READY_TIMEOUT = 30.0
LOG_TAIL_LINES = 40


@dataclass
class _Process:
    name: str
    url: str
    workdir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines the server logged."""
        return _tail(self.log_path, lines)


@dataclass
class AlertmanagerHandle(_Process):
    """A running Alertmanager: ``url`` is its base URL (``http://127.0.0.1:PORT``)."""

    def post_alerts(self, alerts: Sequence[dict[str, Any]]) -> None:
        """``POST /api/v2/alerts`` (``labels`` required; ``annotations``, ``startsAt``,
        ``endsAt``, ``generatorURL`` optional); fails the test unless Alertmanager answers 200."""
        response = httpx.post(f"{self.url}/api/v2/alerts", json=list(alerts), timeout=10)
        if response.status_code != 200:
            pytest.fail(
                f"Alertmanager refused the alerts: HTTP {response.status_code} {response.text}"
            )

    def alerts(self) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts``: the alerts Alertmanager holds now."""
        response = httpx.get(f"{self.url}/api/v2/alerts", timeout=10)
        response.raise_for_status()
        body: list[dict[str, Any]] = response.json()
        return body


@dataclass
class PrometheusHandle(_Process):
    """A running Prometheus: ``url`` is its base URL (``http://127.0.0.1:PORT``)."""

    def wait_until_scraped(self, timeout: float = 15.0) -> None:
        """Wait until every target has been scraped once and is up (``up == 1``).

        Counters seen before a change are what ``rate()``/``increase()`` need: send the traffic
        a rule should see after this, not before.
        """
        deadline = time.monotonic() + timeout
        targets: list[dict[str, Any]] = []
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while time.monotonic() < deadline:
                targets = client.get("/api/v1/targets").json()["data"]["activeTargets"]
                if targets and all(t["health"] == "up" for t in targets):
                    return
                time.sleep(0.1)
        pytest.fail(f"Prometheus did not scrape its targets in {timeout:g}s: {targets}")

    def active_alerts(self) -> list[dict[str, Any]]:
        """``GET /api/v1/alerts``: the alerts its rules hold now (pending or firing)."""
        response = httpx.get(f"{self.url}/api/v1/alerts", timeout=10)
        response.raise_for_status()
        alerts: list[dict[str, Any]] = response.json()["data"]["alerts"]
        return alerts


def require_binary(path: str, package: str) -> str:
    """``path`` if executable; else skip loudly (fail under ``CI=true``) saying how to get it."""
    if os.access(path, os.X_OK):
        return path
    found = shutil.which(Path(path).name)
    if found:
        return found
    reason = (
        f"{path} is not installed (Debian package {package}); "
        "run `bash scripts/test-servers.sh` as root"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(f"SKIPPED LOUDLY: {reason}")


@contextmanager
def _workdir(prefix: str, workdir: Path | None) -> Iterator[Path]:
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        yield workdir
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


@contextmanager
def _run(name: str, argv: list[str], url: str, workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``argv`` logging to ``workdir/NAME.log``, wait for ``url/-/ready``, stop it after."""
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            _wait_ready(name, url, process, log_path)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _wait_ready(name: str, url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    last = "no answer yet"
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                last = f"it exited with status {process.returncode}"
                break
            try:
                response = client.get(f"{url}/-/ready")
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code} {response.text.strip()[:100]}"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.1)
        else:
            last = f"not ready within {READY_TIMEOUT:g}s (last: {last})"
    tail = _tail(log_path)
    pytest.fail(f"{name} at {url} did not become ready: {last}\n--- {log_path} (tail) ---\n{tail}")


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


def alertmanager_config(
    receiver_url: str,
    *,
    bearer_token: str | None = None,
    group_by: Sequence[str] = ("alertname",),
    group_wait: str = "0s",
    group_interval: str = "1s",
    repeat_interval: str = "1h",
) -> dict[str, Any]:
    """One route to one webhook receiver (``send_resolved``), bearer credentials if given."""
    webhook: dict[str, Any] = {"url": receiver_url, "send_resolved": True}
    if bearer_token is not None:
        webhook["http_config"] = {"authorization": {"type": "Bearer", "credentials": bearer_token}}
    return {
        "route": {
            "receiver": "firewatch",
            "group_by": list(group_by),
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
        },
        "receivers": [{"name": "firewatch", "webhook_configs": [webhook]}],
    }


@contextmanager
def running_alertmanager(
    receiver_url: str,
    *,
    bearer_token: str | None = None,
    group_by: Sequence[str] = ("alertname",),
    group_wait: str = "0s",
    group_interval: str = "1s",
    repeat_interval: str = "1h",
    workdir: Path | None = None,
) -> Iterator[AlertmanagerHandle]:
    """A real Alertmanager on 127.0.0.1 (clustering off) notifying the webhook ``receiver_url``.

    Config, storage and ``alertmanager.log`` live in ``workdir`` (kept) or a temporary directory.
    """
    binary = require_binary(ALERTMANAGER_BIN, "prometheus-alertmanager")
    with _workdir("firewatch-alertmanager-", workdir) as directory:
        config = alertmanager_config(
            receiver_url,
            bearer_token=bearer_token,
            group_by=group_by,
            group_wait=group_wait,
            group_interval=group_interval,
            repeat_interval=repeat_interval,
        )
        config_path = directory / "alertmanager.yml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        (directory / "data").mkdir(exist_ok=True)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        argv = [
            binary,
            f"--config.file={config_path}",
            f"--storage.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url={url}",
            "--cluster.listen-address=",
            "--log.level=debug",
        ]
        with _run("alertmanager", argv, url, directory) as process:
            yield AlertmanagerHandle(
                "alertmanager", url, directory, process, directory / "alertmanager.log"
            )


def _scrape_job(targets: Sequence[str], job: str) -> dict[str, Any]:
    """One job over ``targets`` (``host:port`` or URLs sharing one scheme and metrics path)."""
    hosts: list[str] = []
    schemes: set[str] = set()
    paths: set[str] = set()
    for target in targets:
        parts = urlsplit(target if "://" in target else f"http://{target}")
        hosts.append(parts.netloc)
        schemes.add(parts.scheme)
        paths.add(parts.path if parts.path not in ("", "/") else "/metrics")
    if len(schemes) > 1 or len(paths) > 1:
        raise ValueError(f"scrape targets must share scheme and path: {list(targets)}")
    return {
        "job_name": job,
        "scheme": schemes.pop() if schemes else "http",
        "metrics_path": paths.pop() if paths else "/metrics",
        "static_configs": [{"targets": hosts}],
    }


@contextmanager
def running_prometheus(
    scrape_targets: list[str],
    *,
    rules_yaml: str = "groups: []\n",
    alertmanager_url: str | None = None,
    job: str = "demo",
    workdir: Path | None = None,
) -> Iterator[PrometheusHandle]:
    """A real Prometheus on 127.0.0.1 scraping ``scrape_targets`` every second.

    ``rules_yaml`` (a Prometheus rule file) is evaluated every second; alerts go to
    ``alertmanager_url`` with ``--rules.alert.resend-delay=2s`` (with the default 1m the first
    batch is lost before the notifier has synced). Config, TSDB and ``prometheus.log`` live in
    ``workdir`` (kept) or a temporary directory.
    """
    binary = require_binary(PROMETHEUS_BIN, "prometheus")
    with _workdir("firewatch-prometheus-", workdir) as directory:
        rules_path = directory / "rules.yml"
        rules_path.write_text(rules_yaml)
        config: dict[str, Any] = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules_path)],
            "scrape_configs": [_scrape_job(scrape_targets, job)] if scrape_targets else [],
        }
        if alertmanager_url is not None:
            parts = urlsplit(alertmanager_url)
            manager: dict[str, Any] = {
                "scheme": parts.scheme or "http",
                "static_configs": [{"targets": [parts.netloc]}],
            }
            if parts.path not in ("", "/"):
                manager["path_prefix"] = parts.path
            config["alerting"] = {"alertmanagers": [manager]}
        config_path = directory / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        (directory / "data").mkdir(exist_ok=True)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        argv = [
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url={url}",
            "--rules.alert.resend-delay=2s",
        ]
        with _run("prometheus", argv, url, directory) as process:
            yield PrometheusHandle(
                "prometheus", url, directory, process, directory / "prometheus.log"
            )


def wait_for_webhooks(
    receiver: Receiver,
    count: int,
    timeout: float = 20.0,
    *,
    servers: Sequence[AlertmanagerHandle | PrometheusHandle] = (),
) -> list[Received]:
    """Block until ``receiver`` has ``count`` requests; fail the test naming what came, with the
    log tails of ``servers`` (the Alertmanager/Prometheus that should have sent them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with receiver.lock:
            if len(receiver.received) >= count:
                return list(receiver.received)
        time.sleep(0.05)
    logs = "".join(f"\n--- {s.name} log (tail) ---\n{s.log_tail(20)}" for s in servers)
    pytest.fail(
        f"{len(receiver.received)} of {count} webhooks within {timeout:g}s: "
        f"{receiver.bodies()}{logs}"
    )


def capture_webhook_requests(
    alerts_v2: list[dict[str, Any]],
    *,
    then: Sequence[list[dict[str, Any]]] = (),
    bearer_token: str | None = None,
    timeout: float = 20.0,
    workdir: Path | None = None,
) -> list[Received]:
    """Like :func:`capture_webhook`, with each webhook request's headers."""
    receiver = Receiver()
    with (
        serve_in_thread(receiver.app()) as receiver_url,
        running_alertmanager(
            f"{receiver_url}/hook", bearer_token=bearer_token, workdir=workdir
        ) as alertmanager,
    ):
        for count, batch in enumerate([alerts_v2, *then], start=1):
            alertmanager.post_alerts(batch)
            wait_for_webhooks(receiver, count, timeout, servers=[alertmanager])
        with receiver.lock:
            return list(receiver.received)


def capture_webhook(
    alerts_v2: list[dict[str, Any]],
    *,
    then: Sequence[list[dict[str, Any]]] = (),
    bearer_token: str | None = None,
    timeout: float = 20.0,
) -> list[dict[str, Any]]:
    """Live Alertmanager 0.25 webhook bodies for ``alerts_v2`` (API v2 alert objects).

    Starts a receiver and a real Alertmanager (group_wait 0s, group_interval 1s, grouped by
    ``alertname``), posts ``alerts_v2`` and waits for its webhook, then does the same for each
    batch in ``then`` (e.g. the same alerts with ``endsAt`` in the past: a resolved webhook).
    Returns every body received, one per batch (more only if Alertmanager sent extra).
    """
    received = capture_webhook_requests(
        alerts_v2, then=then, bearer_token=bearer_token, timeout=timeout
    )
    return [r.body for r in received]


@contextmanager
def running_demo_model(model_name: str = "iris", version: str = "v1") -> Iterator[str]:
    """The real demo model service over HTTP (``/predict``, ``/metrics``, ``/admin/faults``).

    Served by uvicorn in a thread (``serve_in_thread``, which skips the app's lifespan); the
    lifespan itself (the registry poller, with an in-memory ``FakeRegistry`` aliasing
    ``production`` to ``version``) runs on an event loop in another thread, so this works from
    sync and async tests alike. The model is loaded before the base URL is yielded.
    """
    registry = FakeRegistry(model_name)
    registry.add_version(version, algorithm="logistic_regression")
    registry.set_alias("production", version)
    settings = registry.settings(poll_interval=0.5)
    app = create_demo_app(settings)
    started, stop = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    async def lifespan() -> None:
        try:
            async with app.router.lifespan_context(app):
                started.set()
                while not stop.is_set():
                    await asyncio.sleep(0.05)
        finally:
            if settings.http_client is not None:
                await settings.http_client.aclose()

    def run() -> None:
        try:
            asyncio.run(lifespan())
        except BaseException as exc:  # reported to the test below
            errors.append(exc)
        finally:
            started.set()

    thread = threading.Thread(target=run, name="demo-model-lifespan", daemon=True)
    thread.start()
    try:
        if not started.wait(60) or errors or not thread.is_alive():
            raise RuntimeError(f"the demo model's lifespan did not start: {errors!r}")
        with serve_in_thread(app) as url:
            yield url
    finally:
        stop.set()
        thread.join(10)


def predict_body() -> dict[str, Any]:
    """A valid ``/predict`` body (one breast_cancer row of 30 features)."""
    return {"instances": [[1.0] * 30]}
