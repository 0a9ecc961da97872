"""The default serving adapter: the served app polls Firewatch's registry, so nothing is pushed."""

from __future__ import annotations

from firewatch.registry.adapters.base import check_action


class BuiltinAdapter:
    """For services that read ``GET /api/v1/models/{name}`` (like the demo) and load what
    production points at: moving the registry's alias is all a rollback takes."""

    name = "builtin"

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
        check_action(action)
        verb = "would pick up" if dry_run else "picks up"
        return f"{model} {verb} {version} on its next poll of Firewatch's registry"
