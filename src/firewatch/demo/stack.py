"""`firewatch demo up`: seeds the registry, then runs Firewatch, the demo model and its traffic
as three real processes talking HTTP on loopback, until Ctrl-C.

The demo model reports each prediction to Firewatch's events API and the traffic generator sends
the true labels three seconds later, both with an ``ingest`` token, so Firewatch judges accuracy,
precision, recall, F1 and ROC-AUC, and drift against the reference (`firewatch.demo.reference`,
written before Firewatch starts: the example config's ``drift.reference`` names it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy.orm import Session

from firewatch.auth import service as auth_service
from firewatch.auth.service import Scope
from firewatch.clock import SystemClock
from firewatch.config import FirewatchConfig
from firewatch.errors import ConfigError, FirewatchError
from firewatch.registry import aliases
from firewatch.registry import service as registry_service
from firewatch.store import migrate
from firewatch.store.db import Database

DEMO_VERSIONS: list[tuple[str, dict[str, object], str]] = [
    ("v1", {"algorithm": "logistic_regression"}, "Baseline logistic regression"),
    ("v2", {"algorithm": "random_forest"}, "Random forest (current production)"),
    ("v3", {"algorithm": "gradient_boosting", "broken": "crash"}, "Fails to load: a bad build"),
    (
        "v4",
        {"algorithm": "random_forest", "broken": "errors", "broken_rate": 0.3},
        "Fails 30% of requests",
    ),
    (
        "v5",
        {"algorithm": "random_forest", "broken": "slow", "broken_latency_ms": 1500},
        "Answers in 1.5 s: a slow build",
    ),
    (
        "v6",
        {"algorithm": "random_forest", "broken": "inaccurate"},
        "Serves and answers fast, but wrongly: a bad model version",
    ),
]


@dataclass(frozen=True)
class DemoTokens:
    """The tokens `seed` creates: the model's (read, for the registry), an admin's for the
    person trying the demo, and an ingest token for the inference events and labels."""

    service: str
    user: str
    ingest: str


@dataclass(frozen=True)
class DemoStack:
    config_path: Path
    config: FirewatchConfig
    database_url: str | None
    traffic_rps: float = 10.0

    @property
    def model(self) -> str:
        if not self.config.models:
            raise ConfigError(f"{self.config_path}: the demo needs one model under models:")
        return self.config.models[0].name

    @property
    def api(self) -> str:
        return f"http://{self.config.server.host}:{self.config.server.port}"

    @property
    def model_url(self) -> str:
        health = self.config.models[0].health_url
        if health is None:
            raise ConfigError(f"{self.config_path}: models.0.health_url is needed for the demo")
        return f"{health.scheme}://{health.host}:{health.port}"


def seed(db: Database, model: str) -> DemoTokens:
    """Register the demo versions and deploy v1 then v2 once; return new tokens."""
    clock = SystemClock()

    def unit(session: Session) -> DemoTokens:
        known: list[str] = []
        try:
            row = registry_service.get_model(session, name=model)
            known = [v.version for v in row.versions]
        except FirewatchError:
            pass
        for version, metadata, description in DEMO_VERSIONS:
            if version not in known:
                registry_service.register_version(
                    session,
                    model=model,
                    version=version,
                    now=clock.now(),
                    metadata=metadata,
                    description=description,
                )
        row = registry_service.get_model(session, name=model)
        if registry_service.current_deployment(session, model_id=row.id) is None:
            for version in ("v1", "v2"):
                registry_service.deploy(
                    session,
                    model=model,
                    version=version,
                    now=clock.now(),
                    actor="demo",
                    reason="demo setup",
                )
            # The simple, robust version the high-error-rate runbook can switch to.
            aliases.set_alias(
                session, model=model, alias="fallback", version="v1", now=clock.now(), actor="demo"
            )
        service = auth_service.create_token(
            session, name="demo-model", scope=Scope.READ, now=clock.now()
        )
        user = auth_service.create_token(
            session, name="demo-admin", scope=Scope.ADMIN, now=clock.now()
        )
        ingest = auth_service.create_token(
            session, name="demo-events", scope=Scope.INGEST, now=clock.now()
        )
        return DemoTokens(service=service, user=user, ingest=ingest)

    migrate.upgrade(db)
    with db.write_session() as session:
        return unit(session)


def _firewatch(*args: str) -> list[str]:
    return [sys.executable, "-m", "firewatch", *args]


def _wait_ready(
    url: str,
    what: str,
    procs: list[subprocess.Popen[bytes]],
    timeout: float = 60,
    *,
    any_answer: bool = False,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise FirewatchError(f"{what} exited during start-up; see its output above")
        try:
            if httpx.get(url, timeout=1).status_code < 500 or any_answer:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise FirewatchError(f"{what} did not answer at {url} within {timeout:g}s")


def run(stack: DemoStack, announce: Callable[[dict[str, str]], None]) -> None:
    """Run the three processes; ``announce`` gets the URLs and a token once all are up."""
    db = Database(stack.database_url)
    tokens = seed(db, stack.model)
    db.dispose()
    env = {**os.environ, "FIREWATCH_TOKEN": tokens.service, "FIREWATCH_INGEST_TOKEN": tokens.ingest}
    if stack.database_url:
        env["FIREWATCH_DATABASE_URL"] = stack.database_url
    port = str(
        stack.config.models[0].health_url.port if stack.config.models[0].health_url else 8081
    )
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # The model first (it keeps asking the registry until Firewatch answers), so that
        # Firewatch's first probes find a service that is starting, not one that is absent.
        model_args = ["--model", stack.model, "--registry-url", stack.api, "--port", port]
        procs.append(subprocess.Popen(_firewatch("demo-model", *model_args), env=env))
        _wait_ready(f"{stack.model_url}/health", "the demo model", procs, any_answer=True)
        serve_args = ["serve", "--config", str(stack.config_path)]
        procs.append(subprocess.Popen(_firewatch(*serve_args), env=env))
        _wait_ready(f"{stack.api}/ready", "firewatch serve", procs)
        _wait_ready(f"{stack.model_url}/health", "the demo model", procs)
        procs.append(
            subprocess.Popen(
                _firewatch(
                    "demo-traffic",
                    "--url",
                    stack.model_url,
                    "--rps",
                    str(stack.traffic_rps),
                    "--firewatch-url",
                    stack.api,
                    "--model",
                    stack.model,
                    "--quiet",
                ),
                env=env,
            )
        )
        announce(
            {
                "api": stack.api,
                "model": stack.model,
                "model_url": stack.model_url,
                "token": tokens.user,
            }
        )
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        raise FirewatchError("a demo process exited; stopping the others")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
