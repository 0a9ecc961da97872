"""Asking the Firewatch model registry over HTTP which version the demo service should serve."""

from __future__ import annotations

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


def model_url(registry_url: str, model_name: str) -> str:
    """The registry endpoint describing ``model_name``."""
    return f"{registry_url.rstrip('/')}/api/v1/models/{quote(model_name, safe='')}"


async def fetch_served_spec(
    client: httpx.AsyncClient,
    registry_url: str,
    model_name: str,
    alias: str,
    token: str | None = None,
) -> VersionSpec:
    """The spec of the version that ``alias`` points to; raises RegistryError naming the problem."""
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


def _select_version(document: _RegistryModel, model_name: str, alias: str) -> VersionSpec:
    """Resolve ``alias`` in a registry model document to the spec of its version."""
    version = document.aliases.get(alias)
    if version is None:
        raise RegistryError(f"model {model_name!r} has no alias {alias!r}")
    for entry in document.versions:
        if entry.version == version:
            return spec_from_metadata(version, entry.metadata or {})
    raise RegistryError(f"alias {alias!r} of {model_name!r} points to unknown version {version!r}")
