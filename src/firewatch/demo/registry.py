"""Asking the Firewatch model registry over HTTP which version the demo service should serve,
and how the alias's traffic is split across versions."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from firewatch.demo.versions import VersionSpec, spec_from_metadata


class RegistryError(Exception):
    """The registry could not say which version to serve (unreachable, unknown model...)."""


class _RegistryVersion(BaseModel):
    version: str
    metadata: dict[str, object] | None = None


class _RegistryModel(BaseModel):
    aliases: dict[str, str] = {}
    versions: list[_RegistryVersion] = []
    traffic: dict[str, dict[str, int]] = {}


@dataclass(frozen=True)
class ServedSpec:
    """What an alias asks the service to serve: its version (``primary``, which /health reports)
    and, when its traffic is split, every version with its percent of the requests."""

    primary: VersionSpec
    split: tuple[tuple[VersionSpec, int], ...] = ()


def model_url(registry_url: str, model_name: str) -> str:
    """The registry endpoint describing ``model_name``."""
    return f"{registry_url.rstrip('/')}/api/v1/models/{quote(model_name, safe='')}"


async def fetch_served_spec(
    client: httpx.AsyncClient,
    registry_url: str,
    model_name: str,
    alias: str,
    token: str | None = None,
) -> ServedSpec:
    """The spec of the version ``alias`` points to and of its traffic split (if any); raises
    RegistryError naming the problem."""
    url = model_url(registry_url, model_name)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = await client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise RegistryError(f"registry unreachable at {url}: {exc!r}") from exc
    _check_status(response, model_name)
    try:
        document = _RegistryModel.model_validate_json(response.content)
    except ValidationError as exc:
        raise RegistryError(f"registry answered an unexpected document for {model_name!r}") from exc
    return _select_version(document, model_name, alias)


def _check_status(response: httpx.Response, model_name: str) -> None:
    status = response.status_code
    if status == httpx.codes.NOT_FOUND:
        raise RegistryError(f"model {model_name!r} is not in the registry")
    if status in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
        raise RegistryError(f"registry refused the token (HTTP {status})")
    if status != httpx.codes.OK:
        raise RegistryError(f"registry answered HTTP {status} for model {model_name!r}")


def _select_version(document: _RegistryModel, model_name: str, alias: str) -> ServedSpec:
    """Resolve ``alias`` in a registry model document to the specs it serves."""
    version = document.aliases.get(alias)
    if version is None:
        raise RegistryError(f"model {model_name!r} has no alias {alias!r}")
    specs = {e.version: spec_from_metadata(e.version, e.metadata or {}) for e in document.versions}
    if version not in specs:
        raise RegistryError(
            f"alias {alias!r} of {model_name!r} points to unknown version {version!r}"
        )
    weights = {v: w for v, w in document.traffic.get(alias, {}).items() if w > 0}
    if len(weights) < 2:
        return ServedSpec(specs[version])
    unknown = sorted(set(weights) - set(specs))
    if unknown:
        raise RegistryError(
            f"the {alias!r} traffic split of {model_name!r} names unknown versions {unknown}"
        )
    split = tuple((specs[v], w) for v, w in sorted(weights.items()))
    return ServedSpec(specs[version], split)
