"""The MLflow serving adapter: move a registered-model alias, then make the scoring server reload.

MLflow rolls back by moving an alias (``champion`` by default) that servers load as
``models:/NAME@champion``. ``mlflow models serve`` resolves the alias once, at start, so the
adapter then runs the configured reload (a command such as ``systemctl restart mlflow-serve``,
or a POST) and waits until the server's health URL answers 200 again. Firewatch version ``3``
or ``v3`` is MLflow version 3. MLflow itself is the optional extra ``firewatch-ml[mlflow]``,
imported only when an MLflow adapter is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shlex
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

import httpx

from firewatch.process import run_process
from firewatch.registry.adapters.base import (
    ExternalVersion,
    ServingError,
    ServingSnapshot,
    check_action,
    wait_until_healthy,
    where,
)
from firewatch.registry.adapters.settings import MLFLOW_PING, MlflowServing, ReloadConfig

if TYPE_CHECKING:
    from mlflow import MlflowClient

T = TypeVar("T")
INSTALL_HINT = "install firewatch-ml[mlflow] (pip install 'firewatch-ml[mlflow]')"
_VERSION = re.compile(r"^[vV]?([1-9][0-9]*)$")


class MlflowUnavailable(ServingError):
    """MLflow is not installed, or its registry cannot be reached or answered an error."""

    default_code = "mlflow_unavailable"


class _ReloadFailed(Exception):
    """The scoring server was not seen to reload (the message says why)."""


def mlflow_version(version: str) -> int:
    """The MLflow version number of a Firewatch version: ``"3"`` or ``"v3"`` → 3.

    >>> mlflow_version("v3")
    3
    """
    match = _VERSION.match(version.strip())
    if match is None:
        raise ValueError(
            f"Firewatch version {version!r} has no MLflow counterpart: MLflow versions are "
            "numbers, written 3 or v3 in Firewatch"
        )
    return int(match.group(1))


def _client_class() -> type[MlflowClient]:
    try:
        from mlflow import MlflowClient
    except ImportError as exc:
        raise MlflowUnavailable(
            f"the mlflow serving adapter needs MLflow, which is not installed: {INSTALL_HINT}"
        ) from exc
    return MlflowClient


async def _in_daemon_thread(fn: Callable[[], T], timeout: float) -> T:
    """Run blocking ``fn`` in a daemon thread; give up waiting after ``timeout`` seconds.

    MLflow's REST client retries an unreachable server for minutes: a daemon thread keeps such a
    call from holding up the event loop's shutdown the way the default executor would.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: Exception | None) -> None:
        if future.done():  # the caller stopped waiting
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(cast(T, result))

    def run() -> None:
        result: T | None = None
        error: Exception | None = None
        try:
            result = fn()
        except Exception as exc:
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop closed while the call ran
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="firewatch-mlflow", daemon=True).start()
    return await asyncio.wait_for(future, timeout)


def _mlflow_message(exc: Exception) -> str:
    message = str(getattr(exc, "message", None) or exc).strip().splitlines()
    text = message[0] if message else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "…"


def _not_found(exc: Exception) -> bool:
    return getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST"


class MlflowAdapter:
    """Moves ``alias`` of the registered model and reloads the scoring server (see module doc)."""

    name = "mlflow"

    def __init__(
        self,
        config: MlflowServing,
        *,
        model: str,
        model_url: str | None,
        client: httpx.AsyncClient,
    ) -> None:
        self.config = config
        self.registered_model = config.registered_model or model
        self.ref = f"{self.registered_model}@{config.alias}"
        self.http = client
        self.health_url: str | None = None
        if config.reload is not None:
            explicit = config.reload.health_url
            base = model_url.rstrip("/") + MLFLOW_PING if model_url else None
            self.health_url = str(explicit) if explicit is not None else base
        self._client: MlflowClient | None = None
        self._lock = threading.Lock()

    # --- the MLflow registry (blocking calls, run in a daemon thread) ---

    def _mlflow(self) -> MlflowClient:
        with self._lock:
            if self._client is None:
                uri = self.config.tracking_uri
                path = uri.removeprefix("sqlite:///") if uri.startswith("sqlite:///") else None
                if path is not None and not Path(path).is_file():
                    # MLflow would create an empty store here and then find no model in it
                    raise FileNotFoundError(f"the MLflow store {uri} does not exist")
                self._client = _client_class()(tracking_uri=uri, registry_uri=uri)
            return self._client

    async def _call(self, fn: Callable[[MlflowClient], T]) -> T:
        """Run ``fn`` against the MLflow registry; errors become `MlflowUnavailable`."""
        timeout = self.config.timeout.total_seconds()
        try:
            return await _in_daemon_thread(lambda: fn(self._mlflow()), timeout)
        except MlflowUnavailable:
            raise
        except (LookupError, FileNotFoundError) as exc:
            raise MlflowUnavailable(str(exc), code="not_in_mlflow") from None
        except TimeoutError:
            raise MlflowUnavailable(
                f"MLflow at {self.config.tracking_uri} did not answer within {timeout:g}s"
            ) from None
        except Exception as exc:
            raise MlflowUnavailable(f"MLflow: {_mlflow_message(exc)}") from exc

    def _require_model(self, client: MlflowClient) -> None:
        try:
            client.get_registered_model(self.registered_model)
        except Exception as exc:
            if _not_found(exc):
                raise LookupError(
                    f"MLflow at {self.config.tracking_uri} has no registered model "
                    f"{self.registered_model!r}"
                ) from None
            raise

    def _move_alias(self, client: MlflowClient, target: int) -> str | None:
        """Point the alias at ``target``; returns the MLflow version it pointed at before."""
        self._require_model(client)
        try:
            client.get_model_version(self.registered_model, str(target))
        except Exception as exc:
            if not _not_found(exc):
                raise
            versions = sorted(
                int(v.version)
                for v in client.search_model_versions(f"name = '{self.registered_model}'")
            )
            raise LookupError(
                f"MLflow model {self.registered_model!r} has no version {target} "
                f"(versions: {', '.join(map(str, versions)) or 'none'})"
            ) from None
        before = self._alias_version(client)
        client.set_registered_model_alias(self.registered_model, self.config.alias, str(target))
        return before

    def _alias_version(self, client: MlflowClient) -> str | None:
        try:
            found = client.get_model_version_by_alias(self.registered_model, self.config.alias)
        except Exception as exc:
            if _not_found(exc):
                return None
            raise
        return str(found.version)

    def _read_snapshot(self, client: MlflowClient) -> ServingSnapshot:
        self._require_model(client)
        prefix = self.config.version_prefix
        versions: list[ExternalVersion] = []
        for mv in client.search_model_versions(f"name = '{self.registered_model}'"):
            number = int(mv.version)
            created_ms = mv.creation_timestamp or 0
            versions.append(
                ExternalVersion(
                    version=f"{prefix}{number}",
                    same_as=frozenset({str(number), f"v{number}", f"V{number}"}),
                    created_at=datetime.fromtimestamp(created_ms / 1000, UTC),
                    description=mv.description or "",
                    metadata={
                        "mlflow_model": self.registered_model,
                        "mlflow_version": number,
                        "mlflow_run_id": mv.run_id,
                        "mlflow_source": mv.source,
                        "mlflow_status": mv.status,
                    },
                )
            )
        versions.sort(key=lambda v: int(v.metadata["mlflow_version"]))
        live = self._alias_version(client)
        served = int(live) if live is not None else None
        current = next((v for v in versions if v.metadata["mlflow_version"] == served), None)
        return ServingSnapshot(f"MLflow {self.ref}", versions, current)

    # --- the adapter ---

    async def snapshot(self) -> ServingSnapshot:
        """The registered model's versions and the one the alias points at."""
        return await self._call(self._read_snapshot)

    async def apply(
        self,
        *,
        model: str,
        version: str,
        previous: str | None,
        action: str,
        reason: str,
        dry_run: bool = False,
        incident: str | None = None,
    ) -> str:
        """Move the alias to ``version``, then reload the scoring server and wait for health."""
        check_action(action)
        still = f"the scoring server still serves {previous or 'the previous version'}"
        try:
            target = mlflow_version(version)
        except ValueError as exc:
            raise ServingError(f"the MLflow alias could not be set: {exc}; {still}") from None
        reload = self.config.reload
        if dry_run:
            then = f" and reload the scoring server ({self._how(reload)})" if reload else ""
            return f"would move MLflow {self.ref} to version {target}{then}"
        try:
            before = await self._call(lambda c: self._move_alias(c, target))
        except MlflowUnavailable as exc:
            raise ServingError(
                f"the MLflow alias {self.ref} could not be set: {exc.message}; {still}",
                code=exc.code,
            ) from None
        moved = f"MLflow {self.ref}: {before or 'unset'} → {target}"
        if reload is None:
            return f"{moved} (no reload configured: a server that loads once serves the old version until restarted)"
        try:
            waited = await self._reload(reload, model=model, version=version, target=target)
        except _ReloadFailed as exc:
            raise ServingError(
                f"MLflow {self.ref} now points at {target}, but the scoring server did not "
                f"reload: {exc}; it may still serve {previous or 'the previous version'}",
                code="reload_failed",
            ) from None
        return f"{moved}; reloaded ({self._how(reload)}), {self.health_url} answered 200 after {waited:.1f}s"

    @staticmethod
    def _how(reload: ReloadConfig) -> str:
        if reload.command is not None:
            return f"`{shlex.join(reload.command)}`"
        return f"POST {where(str(reload.url))}"

    async def _reload(
        self, reload: ReloadConfig, *, model: str, version: str, target: int
    ) -> float:
        """Run the reload, then wait for health; returns the seconds health took."""
        if self.health_url is None:  # configuration validation prevents this
            raise _ReloadFailed("no health URL to wait on (set serving.reload.health_url)")
        deadline = time.monotonic() + reload.timeout.total_seconds()
        details = {
            "FIREWATCH_MODEL": model,
            "FIREWATCH_VERSION": version,
            "MLFLOW_MODEL_NAME": self.registered_model,
            "MLFLOW_MODEL_VERSION": str(target),
            "MLFLOW_MODEL_URI": f"models:/{self.ref}",
        }
        if reload.command is not None:
            await _run_command(reload.command, env=details, deadline=deadline)
        else:
            await self._post(str(reload.url), details, deadline=deadline)
        try:
            return await wait_until_healthy(self.http, self.health_url, deadline=deadline)
        except TimeoutError as exc:
            total = reload.timeout.total_seconds()
            raise _ReloadFailed(
                f"{self.health_url} did not answer 200 within {total:g}s of the reload "
                f"(last: {exc})"
            ) from None

    async def _post(self, url: str, details: dict[str, str], *, deadline: float) -> None:
        body = {key.lower(): value for key, value in details.items()}
        try:
            response = await self.http.post(url, json=body, timeout=deadline - time.monotonic())
        except httpx.HTTPError as exc:
            raise _ReloadFailed(f"POST {where(url)} failed: {type(exc).__name__}") from None
        if not response.is_success:
            raise _ReloadFailed(
                f"POST {where(url)} answered {response.status_code}: {response.text[:200]}"
            )


async def _run_command(argv: list[str], *, env: dict[str, str], deadline: float) -> None:
    """Run ``argv`` (in its own process group, killed whole on timeout); it must exit 0."""
    shown = f"`{shlex.join(argv)}`"
    try:
        result = await run_process(argv, env=env, timeout_s=max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        raise _ReloadFailed(f"reload command {shown} did not finish in time (killed)") from None
    except OSError as exc:
        raise _ReloadFailed(f"reload command {shown} could not start: {exc.strerror}") from None
    if result.exit_code != 0:
        tail = (result.stdout + result.stderr).strip()[-300:]
        raise _ReloadFailed(
            f"reload command {shown} exited {result.exit_code}" + (f": {tail}" if tail else "")
        )
