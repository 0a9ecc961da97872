"""The MLflow serving adapter against a real MLflow store on SQLite and a real scoring server.

The rollback test runs the whole path: mirror MLflow into Firewatch's registry (sync), let the
runbook's rollback step move production back to the last known good version, and check that
`mlflow models serve` — which loads ``models:/iris@champion`` once, at start — was restarted by
the adapter's reload command and now answers with version 1's predictions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from firewatch.clock import FakeClock
from firewatch.config import FirewatchConfig, ModelConfig
from firewatch.registry import service as registry_service
from firewatch.registry.adapters import (
    MlflowAdapter,
    ServingError,
    build_adapter,
    import_snapshot,
)
from firewatch.runbooks.schema import Outcome
from firewatch.runbooks.steps import StepContext
from firewatch.runbooks.steps.base import IncidentView
from firewatch.runbooks.steps.deploys import rollback_to_last_good
from firewatch.store.db import Database
from firewatch.store.writer import Writer
from support.mlflow_serving import (
    MODEL,
    QUIET_MLFLOW,
    Store,
    build_store,
    free_port,
    supervised_server,
)
from support.servers import serve_in_thread

pytestmark = [
    pytest.mark.slow,  # importing MLflow and building its store alone takes 10-20 s
    # MLflow's own SQLAlchemy store still uses a loader strategy SQLAlchemy 2.1 deprecates.
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated"),
    # Emitted while MLflow imports its own pyfunc type hints (mlflow.types.responses).
    pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning"),
]

V1_PREDICTIONS = [0, 1, 2]  # the logistic regression, one flower of each species
V2_PREDICTIONS = [2, 2, 2]  # the "bad build"


@pytest.fixture(scope="module")
def built_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return build_store(tmp_path_factory.mktemp("mlflow"))


@pytest.fixture
def store(built_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    """A private copy of the two-version registry (champion → 1), telemetry off."""
    for key, value in QUIET_MLFLOW.items():
        monkeypatch.setenv(key, value)
    return built_store.copy(tmp_path / "mlflow.db")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def writer(sqlite_db: Database) -> Iterator[Writer]:
    w = Writer(sqlite_db)
    w.start()
    yield w
    w.stop()


def model_config(store: Store | str, **serving: Any) -> ModelConfig:
    uri = store.uri if isinstance(store, Store) else store
    return ModelConfig.model_validate(
        {
            "name": MODEL,
            "url": "http://127.0.0.1:1",
            "serving": {"type": "mlflow", "tracking_uri": uri, **serving},
        }
    )


def adapter(config: ModelConfig, http: httpx.AsyncClient) -> MlflowAdapter:
    built = build_adapter(config, http)
    assert isinstance(built, MlflowAdapter)
    return built


def step_context(
    config: ModelConfig, db: Database, writer: Writer, clock: FakeClock, http: httpx.AsyncClient
) -> StepContext:
    full = FirewatchConfig(models=[config])
    incident = IncidentView(1, "INC-2026-001", MODEL, "v2", clock.now(), "investigating", "SEV1")
    return StepContext(
        incident=incident,
        model=config,
        settings=full.runbooks,
        db=db,
        writer=writer,
        clock=clock,
        client=http,
        actor="runbook",
        config=full,
    )


async def mirror(mlflow: MlflowAdapter, writer: Writer, clock: FakeClock) -> None:
    """`firewatch model sync`: import MLflow's versions and the alias's version."""
    snapshot = await mlflow.snapshot()
    await writer.run(
        lambda s: import_snapshot(
            s, model=MODEL, snapshot=snapshot, now=clock.now(), actor="mlflow-sync"
        )
    )


async def production(writer: Writer) -> tuple[str, str, str] | None:
    """(version, kind, reason) of the live production deployment."""

    def read(session: Session) -> tuple[str, str, str] | None:
        live = registry_service.live_deployment(session, model=MODEL)
        return (live.version.version, live.kind, live.reason) if live else None

    return await writer.run(read)


@pytest.mark.timeout(300)
async def test_rollback_makes_the_scoring_server_serve_the_last_good_version(
    store: Store,
    sqlite_db: Database,
    writer: Writer,
    clock: FakeClock,
    http: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    # v1 is champion: Firewatch mirrors MLflow and a probe sees v1 healthy for an hour.
    with supervised_server(store, tmp_path) as server:
        config = model_config(
            store,
            reload={
                "command": server.reload_command,
                "health_url": f"{server.url}/ping",
                "timeout": "90s",
            },
        )
        mlflow = adapter(config, http)
        await mirror(mlflow, writer, clock)
        assert await production(writer) == ("v1", "deploy", "imported from MLflow iris@champion")
        await writer.run(
            lambda s: registry_service.record_health(s, model=MODEL, healthy=True, at=clock.now())
        )
        clock.advance(hours=1)

        # CI moves champion to v2 in MLflow (outside Firewatch); the next sync records the deploy.
        store.set_alias(2)
        await mirror(mlflow, writer, clock)
        history = await writer.run(lambda s: registry_service.history(s, model=MODEL))
        assert [(d.version, d.previous_version) for d in history] == [("v2", "v1"), ("v1", None)]
        assert "outside Firewatch" in history[0].reason

        server.wait_ready()
        assert server.predict() == V2_PREDICTIONS  # the bad build is served
        first_pid = server.pidfile.read_text()

        clock.advance(minutes=2)
        result = await rollback_to_last_good(
            step_context(config, sqlite_db, writer, clock, http), {}
        )

        assert result.outcome is Outcome.PASSED, result.summary
        assert result.summary.startswith(f"Rolled back {MODEL} from v2 to v1; MLflow iris@champion")
        assert "2 → 1" in result.summary and "answered 200" in result.summary
        assert server.pidfile.read_text() != first_pid  # the server was restarted
        assert server.predict() == V1_PREDICTIONS  # and it serves version 1 now
        assert store.alias() == 1
        assert await production(writer) == ("v1", "rollback", "rollback for INC-2026-001")


async def test_sync_imports_versions_once_and_keeps_existing_spellings(
    store: Store, writer: Writer, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    # Someone registered MLflow version 1 by hand as "1": sync must not add "v1" beside it.
    await writer.run(
        lambda s: registry_service.register_version(s, model=MODEL, version="1", now=clock.now())
    )
    mlflow = adapter(model_config(store), http)
    snapshot = await mlflow.snapshot()
    report = await writer.run(
        lambda s: import_snapshot(s, model=MODEL, snapshot=snapshot, now=clock.now(), actor="t")
    )
    assert (report.added, report.live, report.live_changed) == (["v2"], "1", True)
    model = await writer.run(lambda s: registry_service.describe_model(s, name=MODEL))
    v2 = next(v for v in model.versions if v.version == "v2")
    assert v2.metadata["mlflow_version"] == 2 and v2.metadata["mlflow_run_id"]

    again = await writer.run(
        lambda s: import_snapshot(s, model=MODEL, snapshot=snapshot, now=clock.now(), actor="t")
    )
    assert (again.added, again.live_changed) == ([], False)


async def test_alias_moves_without_reload_and_dry_run_changes_nothing(
    store: Store, http: httpx.AsyncClient
) -> None:
    mlflow = adapter(model_config(store, version_prefix=""), http)
    planned = await mlflow.apply(
        model=MODEL, version="2", previous="1", action="deploy", reason="t", dry_run=True
    )
    assert planned == "would move MLflow iris@champion to version 2" and store.alias() == 1

    line = await mlflow.apply(model=MODEL, version="2", previous="1", action="deploy", reason="t")
    assert line.startswith("MLflow iris@champion: 1 → 2 (no reload configured")
    assert store.alias() == 2


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("v7", "MLflow model 'iris' has no version 7 (versions: 1, 2)"),
        ("7b", "Firewatch version '7b' has no MLflow counterpart"),
    ],
)
async def test_unknown_version_leaves_the_alias_alone(
    store: Store, http: httpx.AsyncClient, version: str, expected: str
) -> None:
    mlflow = adapter(model_config(store), http)
    with pytest.raises(ServingError) as raised:
        await mlflow.apply(
            model=MODEL, version=version, previous="v1", action="rollback", reason=""
        )
    assert expected in raised.value.message
    assert raised.value.message.endswith("the scoring server still serves v1")
    assert store.alias() == 1


async def test_unknown_registered_model_is_named(store: Store, http: httpx.AsyncClient) -> None:
    mlflow = adapter(model_config(store, registered_model="iris-prod"), http)
    with pytest.raises(ServingError, match="has no registered model 'iris-prod'"):
        await mlflow.snapshot()


async def test_unreachable_mlflow_fails_within_its_timeout(http: httpx.AsyncClient) -> None:
    mlflow = adapter(model_config(f"http://127.0.0.1:{free_port()}", timeout="1s"), http)
    with pytest.raises(ServingError) as raised:
        await mlflow.apply(model=MODEL, version="v1", previous="v2", action="rollback", reason="")
    message = raised.value.message
    assert message.startswith("the MLflow alias iris@champion could not be set: MLflow")
    assert message.endswith("the scoring server still serves v2")


async def test_reload_that_never_comes_back_fails_after_moving_the_alias(
    store: Store, http: httpx.AsyncClient
) -> None:
    down = f"http://127.0.0.1:{free_port()}/ping"
    config = model_config(store, reload={"command": ["true"], "health_url": down, "timeout": "1s"})
    with pytest.raises(ServingError) as raised:
        await adapter(config, http).apply(
            model=MODEL, version="v2", previous="v1", action="rollback", reason=""
        )
    assert raised.value.message == (
        "MLflow iris@champion now points at 2, but the scoring server did not reload: "
        f"{down} did not answer 200 within 1s of the reload (last: cannot connect); "
        "it may still serve v1"
    )
    assert store.alias() == 2


async def test_failing_reload_command_shows_its_output(
    store: Store, http: httpx.AsyncClient
) -> None:
    command = ["sh", "-c", "echo 'deployment.apps \"iris\" not found' >&2; exit 3"]
    config = model_config(store, reload={"command": command, "health_url": "http://127.0.0.1:1/"})
    with pytest.raises(ServingError, match=r'exited 3: deployment.apps "iris" not found'):
        await adapter(config, http).apply(
            model=MODEL, version="v2", previous="v1", action="rollback", reason=""
        )


async def test_reload_by_url_is_posted_and_repeats_safely(
    store: Store, http: httpx.AsyncClient
) -> None:
    posted: list[dict[str, Any]] = []

    async def reload(request: Request) -> Response:
        posted.append(await request.json())
        return Response(status_code=202)

    async def ping(request: Request) -> Response:
        return Response("\n", status_code=200)

    app = Starlette(routes=[Route("/reload", reload, methods=["POST"]), Route("/ping", ping)])
    with serve_in_thread(app) as base:
        config = model_config(store, reload={"url": f"{base}/reload?token=s3cret"})
        config = config.model_copy(update={"url": base})  # health: <url>/ping
        mlflow = adapter(config, http)
        for _ in range(2):  # a retried runbook step repeats the push
            line = await mlflow.apply(
                model=MODEL, version="v2", previous="v1", action="rollback", reason="r"
            )
    assert line.startswith("MLflow iris@champion: 2 → 2; reloaded (POST ")
    assert "s3cret" not in line and f"{base}/ping answered 200" in line
    assert store.alias() == 2 and len(posted) == 2
    assert posted[0] == {
        "firewatch_model": MODEL,
        "firewatch_version": "v2",
        "mlflow_model_name": MODEL,
        "mlflow_model_version": "2",
        "mlflow_model_uri": "models:/iris@champion",
    }


def test_cli_sync_mirrors_mlflow_into_the_registry(store: Store, tmp_path: Path) -> None:
    config = tmp_path / "firewatch.yaml"
    config.write_text(
        f"models:\n  - name: {MODEL}\n    serving: {{type: mlflow, tracking_uri: '{store.uri}'}}\n"
    )
    env = {**os.environ, **QUIET_MLFLOW, "FIREWATCH_DATABASE_URL": f"sqlite:///{tmp_path}/fw.db"}

    def firewatch(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "firewatch", "--config", str(config), *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    synced = firewatch("model", "sync", MODEL)
    assert synced.returncode == 0, synced.stderr
    assert " ".join(synced.stdout.split()) == (
        "Synced iris from MLflow iris@champion: v1, v2; production now v1"
    )
    listed = firewatch("model", "list", "--json")
    (model,) = json.loads(listed.stdout)
    assert model["production"]["version"] == "v1"
    assert [v["version"] for v in model["versions"]] == ["v1", "v2"]
