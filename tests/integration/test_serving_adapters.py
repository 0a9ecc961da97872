"""Serving adapters without MLflow: the HTTP hook against a real receiver, builtin, the config,
and what the runbook's rollback step reports when the serving system does not follow."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from firewatch.clock import FakeClock
from firewatch.config import FirewatchConfig, ModelConfig
from firewatch.registry import service as registry_service
from firewatch.registry.adapters import (
    BuiltinAdapter,
    ServingError,
    build_adapter,
    mlflow_version,
)
from firewatch.runbooks.schema import Outcome
from firewatch.runbooks.steps import StepContext
from firewatch.runbooks.steps.base import IncidentView
from firewatch.runbooks.steps.deploys import rollback_to_last_good
from firewatch.store.db import Database
from firewatch.store.writer import Writer
from support.api import api_client
from support.receiver import Receiver
from support.servers import free_port, serve_in_thread

SECRET = "whsec_" + base64.b64encode(b"serving-hook-secret-0123456789").decode()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    peer = Receiver()
    with serve_in_thread(peer.app()) as base:
        yield peer, f"{base}/hook"


@pytest.fixture
def writer(sqlite_db: Database) -> Iterator[Writer]:
    w = Writer(sqlite_db)
    w.start()
    yield w
    w.stop()


def iris(serving: dict[str, Any] | None = None) -> ModelConfig:
    return ModelConfig.model_validate({"name": "iris", "serving": serving or {"type": "builtin"}})


async def test_hook_posts_the_move_signed_and_repeats_with_the_same_id(
    receiver: tuple[Receiver, str], http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    peer, url = receiver
    monkeypatch.setenv("FW_SERVING_SECRET", SECRET)
    monkeypatch.setenv("FW_SERVING_TOKEN", "tok-123456")
    adapter = build_adapter(
        iris(
            {
                "type": "http",
                "url": url,
                "secret_env": "FW_SERVING_SECRET",
                "bearer_token_env": "FW_SERVING_TOKEN",
            }
        ),
        http,
    )
    for _ in range(2):
        line = await adapter.apply(
            model="iris",
            version="v1",
            previous="v2",
            action="rollback",
            reason="rollback for INC-2026-004",
            incident="INC-2026-004",
        )
    assert line == f"POST {url} → 200 (signed): ok"
    first, repeat = peer.received
    assert first.body == {
        "model": "iris",
        "alias": "production",
        "version": "v1",
        "previous_version": "v2",
        "action": "rollback",
        "reason": "rollback for INC-2026-004",
        "incident": "INC-2026-004",
    }
    raw = orjson.dumps(first.body)  # what was sent: orjson keeps the key order
    assert Webhook(SECRET).verify(raw, first.headers) == first.body
    assert first.headers["authorization"] == "Bearer tok-123456"
    assert first.headers["idempotency-key"] == first.headers["webhook-id"]
    assert repeat.headers["webhook-id"] == first.headers["webhook-id"]  # receivers dedupe


async def test_receiver_error_unreachable_and_unset_secret_each_say_what_is_served(
    receiver: tuple[Receiver, str], http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    peer, url = receiver
    peer.responses.append((500, {}))
    move: dict[str, Any] = {
        "model": "iris",
        "version": "v1",
        "previous": "v2",
        "action": "rollback",
        "reason": "",
    }
    with pytest.raises(ServingError) as refused:
        await build_adapter(iris({"type": "http", "url": url}), http).apply(**move)
    assert refused.value.message == (
        f"the serving hook {url} answered 500: no; the serving system still serves v2"
    )

    closed = f"http://127.0.0.1:{free_port()}/hook?token=s3cret"
    with pytest.raises(ServingError) as unreachable:
        await build_adapter(iris({"type": "http", "url": closed}), http).apply(**move)
    assert unreachable.value.message == (
        f"the serving hook {closed.split('?')[0]} could not be reached (ConnectError); "
        "the serving system still serves v2"
    )

    monkeypatch.delenv("FW_UNSET_SECRET", raising=False)
    unset = {"type": "http", "url": url, "secret_env": "FW_UNSET_SECRET"}
    with pytest.raises(ServingError, match="environment variable FW_UNSET_SECRET is not set"):
        await build_adapter(iris(unset), http).apply(**move)
    assert len(peer.received) == 1  # only the refused one reached the receiver


async def test_dry_run_describes_and_sends_nothing(
    receiver: tuple[Receiver, str], http: httpx.AsyncClient
) -> None:
    peer, url = receiver
    adapter = build_adapter(iris({"type": "http", "url": url}), http)
    line = await adapter.apply(
        model="iris", version="v1", previous="v2", action="fallback", reason="", dry_run=True
    )
    assert line == f"would POST fallback of iris to v1 to {url}" and peer.received == []
    builtin = await BuiltinAdapter().apply(
        model="iris", version="v1", previous="v2", action="rollback", reason=""
    )
    assert builtin == "iris picks up v1 on its next poll of Firewatch's registry"
    with pytest.raises(ValueError, match="unknown serving action 'reroute'"):
        await adapter.apply(model="iris", version="v1", previous=None, action="reroute", reason="")


async def test_serving_config_is_validated_with_clear_errors(http: httpx.AsyncClient) -> None:
    assert isinstance(build_adapter(None, http), BuiltinAdapter)
    assert iris().serving.type == "builtin"
    cases: dict[str, dict[str, Any]] = {
        "Input tag 'kserve' found using 'type'": {"type": "kserve"},
        "reload gives either command": {
            "type": "mlflow",
            "tracking_uri": "sqlite:///m.db",
            "reload": {"health_url": "http://h/ping"},
        },
        "command is an argv list": {
            "type": "mlflow",
            "tracking_uri": "sqlite:///m.db",
            "reload": {"command": "systemctl restart mlflow-serve"},
        },
        "serving.reload.health_url is needed": {
            "type": "mlflow",
            "tracking_uri": "sqlite:///m.db",
            "reload": {"command": ["systemctl", "restart", "mlflow-serve"]},
        },
        "MLflow reserves v<number> aliases": {
            "type": "mlflow",
            "tracking_uri": "sqlite:///m.db",
            "alias": "v3",
        },
        "not an environment variable name": {
            "type": "http",
            "url": "http://h/hook",
            "secret_env": "whsec_MfKQ9r8G+PD8ILPZIo2L",
        },
    }
    for expected, serving in cases.items():
        with pytest.raises(ValidationError, match=expected.replace("(", r"\(")):
            iris(serving)


@pytest.mark.parametrize(("given", "number"), [("3", 3), ("v3", 3), ("V12", 12), (" v1 ", 1)])
def test_firewatch_versions_map_to_mlflow_numbers(given: str, number: int) -> None:
    assert mlflow_version(given) == number


@pytest.mark.parametrize("given", ["", "v", "v0", "03", "3.1", "latest", "-1"])
def test_other_versions_have_no_mlflow_counterpart(given: str) -> None:
    with pytest.raises(ValueError, match="has no MLflow counterpart"):
        mlflow_version(given)


def _serve_v1_then_v2(session: Session, clock: FakeClock) -> None:
    for version in ("v1", "v2"):
        registry_service.register_version(session, model="iris", version=version, now=clock.now())
    registry_service.deploy(session, model="iris", version="v1", now=clock.now(), actor="ci")
    registry_service.record_health(session, model="iris", healthy=True, at=clock.now())
    clock.advance(timedelta(hours=1))
    registry_service.deploy(session, model="iris", version="v2", now=clock.now(), actor="ci")


def _context(
    model: ModelConfig, db: Database, writer: Writer, clock: FakeClock, http: httpx.AsyncClient
) -> StepContext:
    config = FirewatchConfig(models=[model])
    incident = IncidentView(1, "INC-2026-007", "iris", "v2", clock.now(), "investigating", "SEV1")
    return StepContext(
        incident=incident,
        model=model,
        settings=config.runbooks,
        db=db,
        writer=writer,
        clock=clock,
        client=http,
        actor="runbook",
        config=config,
    )


async def test_rollback_step_pushes_to_the_hook_and_fails_when_it_refuses(
    sqlite_db: Database,
    writer: Writer,
    clock: FakeClock,
    http: httpx.AsyncClient,
    receiver: tuple[Receiver, str],
) -> None:
    peer, url = receiver
    model = iris({"type": "http", "url": url})
    await writer.run(lambda s: _serve_v1_then_v2(s, clock))
    peer.responses.append((503, {}))

    failed = await rollback_to_last_good(_context(model, sqlite_db, writer, clock, http), {})

    assert failed.outcome is Outcome.FAILED
    assert failed.summary == (
        f"Registry moved iris to v1 but the serving hook {url} answered 503: no; "
        "the serving system still serves v2"
    )
    assert failed.output["serving"] == "http" and failed.output["to"] == "v1"

    # The step is retried: the registry move is already done, the push is repeated and lands.
    passed = await rollback_to_last_good(_context(model, sqlite_db, writer, clock, http), {})
    assert passed.outcome is Outcome.PASSED
    assert passed.summary == f"Rolled back iris from v2 to v1; POST {url} → 200: ok"
    assert [b["incident"] for b in peer.bodies()] == ["INC-2026-007", "INC-2026-007"]


async def test_missing_mlflow_store_fails_the_step_without_creating_one(
    sqlite_db: Database, writer: Writer, clock: FakeClock, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    missing = f"sqlite:///{tmp_path}/nowhere/mlflow.db"
    model = iris({"type": "mlflow", "tracking_uri": missing})
    await writer.run(lambda s: _serve_v1_then_v2(s, clock))

    result = await rollback_to_last_good(_context(model, sqlite_db, writer, clock, http), {})

    assert result.outcome is Outcome.FAILED
    assert result.summary == (
        "Registry moved iris to v1 but the MLflow alias iris@champion could not be set: "
        f"the MLflow store {missing} does not exist; the scoring server still serves v2"
    )
    assert not (tmp_path / "nowhere").exists()


def _model_cli(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``firewatch model ARGS`` with ``workdir``'s firewatch.yaml and a SQLite database there."""
    env = {**os.environ, "FIREWATCH_DATABASE_URL": f"sqlite:///{workdir}/fw.db", "COLUMNS": "200"}
    config = str(workdir / "firewatch.yaml")
    return subprocess.run(
        [sys.executable, "-m", "firewatch", "--config", config, "model", *args],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_sync_refuses_a_model_without_versions_of_its_own(tmp_path: Path) -> None:
    (tmp_path / "firewatch.yaml").write_text("models:\n  - name: iris\n")
    done = _model_cli(tmp_path, "sync", "iris")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert " ".join(done.stderr.split()) == (
        "error: iris's serving adapter is builtin: it has no versions of its own to sync from "
        "(only mlflow does)"
    )


async def test_without_mlflow_installed_the_push_says_how_to_get_it(
    http: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow → ImportError
    (tmp_path / "mlflow.db").touch()
    model = iris({"type": "mlflow", "tracking_uri": f"sqlite:///{tmp_path}/mlflow.db"})
    with pytest.raises(ServingError) as raised:
        await build_adapter(model, http).apply(
            model="iris", version="v1", previous="v2", action="rollback", reason=""
        )
    assert "install firewatch-ml[mlflow]" in raised.value.message
    assert raised.value.message.endswith("the scoring server still serves v2")


async def test_a_deploy_or_rollback_by_hand_pushes_production_through_the_adapter(
    sqlite_db: Database, clock: FakeClock, receiver: tuple[Receiver, str]
) -> None:
    """`POST /models/{m}/deploy|rollback` moves serving too; when the hook refuses, a 502 says
    the registry moved and what is still served. Other aliases push nothing."""
    peer, url = receiver
    config = FirewatchConfig(models=[iris({"type": "http", "url": url})])
    async with api_client(sqlite_db, clock, config=config) as (client, _):
        for version in ("v1", "v2"):
            await client.post("/api/v1/models/iris/versions", json={"version": version})
        deployed = await client.post("/api/v1/models/iris/deploy", json={"version": "v1"})
        assert deployed.status_code == 200, deployed.text
        assert deployed.json()["serving"] == f"POST {url} → 200: ok"
        staged = await client.post(
            "/api/v1/models/iris/deploy", json={"version": "v2", "alias": "staging"}
        )
        assert staged.json()["serving"] is None

        peer.responses.append((503, {}))
        refused = await client.post("/api/v1/models/iris/deploy", json={"version": "v2"})
        assert refused.status_code == 502
        error = refused.json()["error"]
        assert error["code"] == "serving_hook_refused"
        assert error["message"] == (
            f"Registry moved iris to v2 but the serving hook {url} answered 503: no; "
            "the serving system still serves v1"
        )
        live = (await client.get("/api/v1/models/iris")).json()["production"]
        assert live["version"] == "v2"  # the registry move stands; a retry repeats the push

        back = await client.post("/api/v1/models/iris/rollback", json={"to": "v1"})
        assert back.status_code == 200, back.text
    assert [(b["action"], b["version"]) for b in peer.bodies()] == [
        ("deploy", "v1"),
        ("deploy", "v2"),
        ("rollback", "v1"),
    ]


def test_cli_deploy_says_what_serving_did_and_fails_when_it_did_not(
    tmp_path: Path, receiver: tuple[Receiver, str]
) -> None:
    peer, url = receiver
    config = tmp_path / "firewatch.yaml"
    config.write_text(f"models:\n  - name: iris\n    serving: {{type: http, url: '{url}'}}\n")

    for version in ("v1", "v2"):
        assert _model_cli(tmp_path, "register", "iris", version).returncode == 0
        done = _model_cli(tmp_path, "deploy", "iris", version)
        assert done.returncode == 0, done.stderr
        assert f"POST {url} → 200: ok" in done.stdout
    peer.responses.append((500, {}))
    failed = _model_cli(tmp_path, "rollback", "iris", "--to", "v1")
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "Registry moved iris to v1 but the serving hook" in " ".join(failed.stderr.split())
