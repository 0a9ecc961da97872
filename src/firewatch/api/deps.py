"""Request dependencies: the runtime, and bearer-token authentication with scopes."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import Request

from firewatch.app import Runtime
from firewatch.auth import service as auth_service
from firewatch.auth.service import Scope, TokenInfo
from firewatch.errors import Forbidden, Unauthorized
from firewatch.incidents.service import Actor

TOKEN_CACHE_TTL_S = 10.0


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


class TokenCache:
    """Verified tokens for a few seconds, so a busy client costs one lookup per TTL, not per call."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[TokenInfo | None, float]] = {}

    async def verify(self, runtime: Runtime, token: str) -> TokenInfo | None:
        key = auth_service.hash_token(token)
        hit = self._entries.get(key)
        if hit is not None and hit[1] > time.monotonic():
            return hit[0]

        info = await runtime.db.read(lambda s: auth_service.verify_token(s, token=token))
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key] = (info, time.monotonic() + TOKEN_CACHE_TTL_S)
        return info


def bearer_token(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def authenticate(request: Request, needed: Scope) -> TokenInfo:
    cache: TokenCache = request.app.state.token_cache
    return await check_token(
        runtime_of(request), cache, request.headers.get("authorization", ""), needed
    )


async def check_token(
    runtime: Runtime, cache: TokenCache, authorization: str, needed: Scope
) -> TokenInfo:
    """The token in an ``Authorization`` header, checked for ``needed`` (401/403 otherwise)."""
    token = bearer_token(authorization)
    if token is None:
        raise Unauthorized(
            "missing bearer token: send 'Authorization: Bearer <token>'; create one with "
            f"`firewatch token create --scope {needed.value}`",
            code="missing_token",
        )
    info = await cache.verify(runtime, token)
    if info is None:
        raise Unauthorized("invalid or revoked token", code="invalid_token")
    if not info.scope.allows(needed):
        raise Forbidden(
            f"token {info.name!r} has scope {info.scope.value}; this needs {needed.value}",
            code="insufficient_scope",
        )
    return info


def require(scope: Scope) -> Callable[[Request], Awaitable[Actor]]:
    """A dependency that authenticates the request and returns who is acting."""

    async def dependency(request: Request) -> Actor:
        info = await authenticate(request, scope)
        return Actor(info.name)

    return dependency


read_access = require(Scope.READ)
write_access = require(Scope.WRITE)
admin_access = require(Scope.ADMIN)
