"""A real MLflow store on SQLite with two iris models, and a supervised `mlflow models serve`.

Nothing is downloaded: the iris data set ships with scikit-learn, MLflow's telemetry is off and
the scoring server runs with ``--env-manager local`` (this interpreter's packages). Version 1 is
a logistic regression; version 2 is a "bad build" that answers class 2 for every row, so which
version a server loaded shows in its predictions.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

MODEL = "iris"
QUIET_MLFLOW = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
IRIS_COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
ROWS = [[5.1, 3.5, 1.4, 0.2], [5.9, 3.0, 4.2, 1.5], [6.7, 3.0, 5.2, 2.3]]
"""One flower of each species: version 1 predicts 0, 1, 2; version 2 predicts 2, 2, 2."""

# A supervisor like a Deployment's controller: it restarts the server whenever it exits.
SUPERVISOR = """\
import os, signal, subprocess, sys, time
from pathlib import Path

pidfile, argv = Path(sys.argv[1]), sys.argv[2:]
child = None

def stop(signum, frame):
    if child is not None:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    sys.exit(0)

signal.signal(signal.SIGTERM, stop)
while True:
    child = subprocess.Popen(argv, start_new_session=True)
    pidfile.write_text(str(child.pid))
    child.wait()
    try:  # the uvicorn that `mlflow models serve` started can outlive it
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    time.sleep(0.2)
"""

# The reload: stop the running server (its process group) and return once its port is closed,
# as `systemctl restart` returns once the old process is gone; the supervisor starts a new one.
RELOAD = """\
import os, signal, socket, sys, time
from pathlib import Path

group, port = int(Path(sys.argv[1]).read_text()), int(sys.argv[2])
os.killpg(group, signal.SIGTERM)
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        sys.exit(0)
    time.sleep(0.1)
sys.exit("the old server still listens")
"""


def require_mlflow() -> Any:
    """The mlflow module; skip loudly without it (fail under CI=true, where it is installed)."""
    try:
        import mlflow
    except ImportError:
        reason = "mlflow is not installed (make install-dev installs firewatch-ml[mlflow])"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(f"SKIPPED LOUDLY: {reason}")
    return mlflow


@dataclass(frozen=True)
class Store:
    path: Path

    @property
    def uri(self) -> str:
        return f"sqlite:///{self.path}"

    def copy(self, to: Path) -> Store:
        """A copy of the registry (the artifacts stay shared: nothing writes them)."""
        shutil.copy(self.path, to)
        return Store(to)

    def set_alias(self, version: int, alias: str = "champion") -> None:
        client(self).set_registered_model_alias(MODEL, alias, str(version))

    def alias(self, alias: str = "champion") -> int:
        return int(client(self).get_model_version_by_alias(MODEL, alias).version)


def client(store: Store) -> Any:
    mlflow = require_mlflow()
    return mlflow.MlflowClient(tracking_uri=store.uri, registry_uri=store.uri)


def build_store(directory: Path) -> Store:
    """Log and register the two iris models as versions 1 and 2; alias champion → 1."""
    require_mlflow()
    import mlflow
    import mlflow.sklearn
    from sklearn.datasets import load_iris
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression

    store = Store(directory / "mlflow.db")
    features, labels = load_iris(return_X_y=True, as_frame=True)
    good = LogisticRegression(max_iter=1000).fit(features, labels)
    bad = DummyClassifier(strategy="constant", constant=2).fit(features, labels)
    with pytest.MonkeyPatch.context() as env:
        for key, value in {**QUIET_MLFLOW, "MLFLOW_TRACKING_URI": store.uri}.items():
            env.setenv(key, value)
        experiment = mlflow.create_experiment(
            "firewatch-test", artifact_location=(directory / "artifacts").as_uri()
        )
        for estimator in (good, bad):
            with mlflow.start_run(experiment_id=experiment):
                mlflow.sklearn.log_model(
                    estimator,
                    name="model",
                    registered_model_name=MODEL,
                    pip_requirements=["scikit-learn"],  # no requirement inference
                )
    store.set_alias(1)
    return store


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class ScoringServer:
    url: str
    pidfile: Path
    reload_command: list[str]

    def predict(self) -> list[int]:
        body = {"dataframe_split": {"columns": IRIS_COLUMNS, "data": ROWS}}
        response = httpx.post(f"{self.url}/invocations", json=body, timeout=10)
        response.raise_for_status()
        return [int(p) for p in response.json()["predictions"]]

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/ping", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"mlflow models serve at {self.url} not ready in {timeout:g}s")


@contextmanager
def supervised_server(store: Store, directory: Path) -> Iterator[ScoringServer]:
    """``mlflow models serve -m models:/iris@champion`` under a restart-on-exit supervisor."""
    port = free_port()
    supervisor, reload, pidfile = (
        directory / "supervise.py",
        directory / "reload.py",
        directory / "serve.pid",
    )
    supervisor.write_text(SUPERVISOR)
    reload.write_text(RELOAD)
    mlflow_cli = str(Path(sys.executable).with_name("mlflow"))
    argv = [mlflow_cli, "models", "serve", "-m", f"models:/{MODEL}@champion"]
    argv += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    env = {**os.environ, **QUIET_MLFLOW, "MLFLOW_TRACKING_URI": store.uri}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    log = (directory / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, str(supervisor), str(pidfile), *argv],
        env=env,
        cwd=directory,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = ScoringServer(
        f"http://127.0.0.1:{port}",
        pidfile,
        [sys.executable, str(reload), str(pidfile), str(port)],
    )
    try:
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        log.close()
