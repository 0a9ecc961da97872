"""What a serving adapter is, its errors, and importing a serving system's versions (sync).

After Firewatch's registry moves a model's production alias (a rollback, a fallback, a deploy),
the model's serving adapter makes the real serving system follow and returns one line for the
incident timeline. Adapters that can also list the serving system's versions implement
`SyncSource`; `import_snapshot` mirrors such a listing into the registry.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import httpx
from sqlalchemy.orm import Session

from firewatch.errors import FirewatchError
from firewatch.registry import service as registry_service

ACTIONS = ("rollback", "fallback", "deploy")
"""The ``action`` values adapters get: why the registry moved."""


class ServingError(FirewatchError):
    """The serving system did not follow the registry. The message reads on after "registry
    moved to v2 but …" and says what is still served."""

    status = 502
    default_code = "serving_not_updated"


class ServingAdapter(Protocol):
    """Makes one model's serving system serve what the registry now says."""

    name: str
    """Shown on the timeline: builtin, mlflow, http."""

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
        """Serve ``version`` (the registry's new production version) instead of ``previous``.

        Returns a one-line description for the timeline; raises `ServingError` when the serving
        system could not be made to follow. Safe to repeat (a retried runbook step repeats it).
        """
        ...


@dataclass(frozen=True)
class ExternalVersion:
    """One version in a serving system, as Firewatch's registry should know it."""

    version: str
    """The Firewatch version name to register (e.g. ``v3``)."""
    same_as: frozenset[str]
    """Every Firewatch name that means this version (``3`` and ``v3``)."""
    created_at: datetime
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ServingSnapshot:
    """A serving system's versions and the one it serves now (None: none is served)."""

    source: str
    versions: list[ExternalVersion]
    live: ExternalVersion | None


@runtime_checkable
class SyncSource(Protocol):
    """An adapter that can list the serving system's versions."""

    async def snapshot(self) -> ServingSnapshot: ...


@dataclass(frozen=True)
class SyncReport:
    model: str
    added: list[str]
    live: str | None
    live_changed: bool
    source: str


def import_snapshot(
    session: Session, *, model: str, snapshot: ServingSnapshot, now: datetime, actor: str
) -> SyncReport:
    """Register the snapshot's versions Firewatch lacks; make its live version production.

    A version Firewatch already knows under another spelling (``3`` for ``v3``) is not added
    twice. When production is unset, or points at another version than the serving system
    serves (someone deployed outside Firewatch), a deploy is recorded so that the deploy history
    and last known good follow what was really served.
    """
    known = _known_versions(session, model)
    added: list[str] = []
    names: dict[str, str] = {}  # snapshot name → the Firewatch name it exists under
    for external in snapshot.versions:
        existing = next((k for k in known if k in external.same_as), None)
        if existing is None:
            registry_service.register_version(
                session,
                model=model,
                version=external.version,
                now=external.created_at,
                metadata=external.metadata,
                description=external.description,
            )
            added.append(external.version)
            existing = external.version
        names[external.version] = existing
    if snapshot.live is None:
        return SyncReport(model, added, None, live_changed=False, source=snapshot.source)
    target = names.get(snapshot.live.version, snapshot.live.version)
    current = registry_service.live_deployment(session, model=model)
    if current is not None and current.version.version == target:
        return SyncReport(model, added, target, live_changed=False, source=snapshot.source)
    reason = (
        f"imported from {snapshot.source}"
        if current is None
        else f"{snapshot.source} moved to {target} outside Firewatch"
    )
    registry_service.deploy(
        session, model=model, version=target, now=now, actor=actor, reason=reason
    )
    return SyncReport(model, added, target, live_changed=True, source=snapshot.source)


def _known_versions(session: Session, model: str) -> list[str]:
    try:
        row = registry_service.get_model(session, name=model)
    except FirewatchError:
        return []
    return [v.version for v in row.versions]


async def wait_until_healthy(client: httpx.AsyncClient, url: str, *, deadline: float) -> float:
    """Poll ``url`` until it answers 200; returns the seconds waited.

    ``deadline`` is a `time.monotonic()` value. Raises `TimeoutError` naming the last answer.
    """
    started = time.monotonic()
    last = "no answer yet"
    while True:
        remaining = deadline - time.monotonic()
        try:
            response = await client.get(url, timeout=max(0.1, min(remaining, 5.0)))
            if response.status_code == 200:
                return time.monotonic() - started
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = _http_error(exc)
        if time.monotonic() + 0.25 > deadline:
            raise TimeoutError(last)
        await asyncio.sleep(0.25)


def _http_error(exc: httpx.HTTPError) -> str:
    """A short reason for a failed request (cannot connect, timed out, …)."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def check_action(action: str) -> None:
    """Raise ValueError for an ``action`` adapters do not know."""
    if action not in ACTIONS:
        raise ValueError(f"unknown serving action {action!r} (expected {', '.join(ACTIONS)})")


def where(url: str) -> str:
    """``url`` without its query string or credentials (either may hold a secret)."""
    parts = httpx.URL(url)
    return str(parts.copy_with(query=None, fragment=None, username=None, password=None))
