"""Serving adapters: after the registry moves a model's production alias, make serving follow.

One module each: ``builtin`` (the served app polls Firewatch's registry; nothing to push),
``mlflow`` (move a registered-model alias, reload the scoring server; the extra
``firewatch-ml[mlflow]``) and ``http`` (POST the move to a KServe / Seldon-style controller).
Their configuration (``models[].serving``) is in `settings`.

Usage::

    adapter = build_adapter(config.model("iris"), client)
    line = await adapter.apply(model="iris", version="v1", previous="v2", action="rollback",
                               reason="rollback for INC-2026-001", incident="INC-2026-001")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from firewatch.registry.adapters.base import (
    ServingAdapter,
    ServingError,
    ServingSnapshot,
    SyncReport,
    SyncSource,
    import_snapshot,
)
from firewatch.registry.adapters.builtin import BuiltinAdapter
from firewatch.registry.adapters.http import HttpAdapter
from firewatch.registry.adapters.mlflow import MlflowAdapter, mlflow_version
from firewatch.registry.adapters.settings import (
    BuiltinServing,
    HttpServing,
    MlflowServing,
    ServingConfig,
)
from firewatch.registry.service import PRODUCTION

if TYPE_CHECKING:
    from firewatch.config import ModelConfig
    from firewatch.registry.schemas import DeploymentOut

__all__ = [
    "BuiltinAdapter",
    "BuiltinServing",
    "HttpAdapter",
    "HttpServing",
    "MlflowAdapter",
    "MlflowServing",
    "ServingAdapter",
    "ServingConfig",
    "ServingError",
    "ServingSnapshot",
    "SyncReport",
    "SyncSource",
    "build_adapter",
    "follow_deployment",
    "import_snapshot",
    "mlflow_version",
]


def build_adapter(model_config: ModelConfig | None, client: httpx.AsyncClient) -> ServingAdapter:
    """The adapter ``model_config.serving`` names; builtin for a model absent from the config."""
    serving = model_config.serving if model_config is not None else BuiltinServing()
    match serving:
        case MlflowServing():
            assert model_config is not None
            url = str(model_config.url) if model_config.url is not None else None
            return MlflowAdapter(serving, model=model_config.name, model_url=url, client=client)
        case HttpServing():
            return HttpAdapter(serving, client=client)
        case _:
            return BuiltinAdapter()


async def follow_deployment(
    model_config: ModelConfig | None, client: httpx.AsyncClient, deployment: DeploymentOut
) -> str | None:
    """Make serving follow a deploy or rollback of ``production`` done by hand (API or CLI); what
    the adapter did, or None for an alias that serves nothing itself.

    Raises `ServingError` saying both halves: the registry has moved, serving has not.
    """
    if deployment.alias != PRODUCTION:
        return None
    adapter = build_adapter(model_config, client)
    action = "rollback" if deployment.kind == "rollback" else "deploy"
    try:
        return await adapter.apply(
            model=deployment.model,
            version=deployment.version,
            previous=deployment.previous_version,
            action=action,
            reason=deployment.reason or f"{action} by {deployment.actor}",
        )
    except ServingError as exc:
        raise ServingError(
            f"Registry moved {deployment.model} to {deployment.version} but {exc.message}",
            code=exc.code,
            details={**exc.details, "serving": adapter.name},
        ) from None
