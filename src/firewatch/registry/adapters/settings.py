"""The configuration of a model's serving adapter (``models[].serving``), one class per ``type``.

``builtin`` (the default) pushes nothing; ``mlflow`` moves a registered-model alias and reloads
the scoring server; ``http`` POSTs the change to a hook (a KServe / Seldon controller). This
module imports nothing from ``firewatch.config``, which imports it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from firewatch.duration import Duration

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MLFLOW_PING = "/ping"
"""The health path of ``mlflow models serve`` (200 once the model is loaded)."""


class _Serving(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _env_name(value: str | None) -> str | None:
    if value is not None and not _ENV_NAME.match(value):
        raise ValueError(
            f"{value!r} is not an environment variable name; fields ending in _env name the "
            "variable that holds the secret, not the secret itself"
        )
    return value


class BuiltinServing(_Serving):
    """The served app polls Firewatch's own registry (as the demo does): nothing to push."""

    type: Literal["builtin"] = "builtin"


class ReloadConfig(_Serving):
    """How a scoring server that loads its model once at start picks up a moved alias: run
    ``command`` or POST to ``url`` (exactly one), then wait until ``health_url`` answers 200."""

    command: list[str] | None = Field(
        None,
        description="argv (no shell) that restarts the server and returns once the old one is "
        "stopped or rolled, e.g. [systemctl, restart, mlflow-serve] or [sh, -c, 'kubectl rollout "
        "restart deploy/iris && kubectl rollout status deploy/iris']. Must exit 0.",
    )
    url: HttpUrl | None = Field(None, description="POSTed to instead; a 2xx answer = accepted.")
    health_url: HttpUrl | None = Field(
        None,
        description="Polled until it answers 200 (default: the model's url + /ping, the health "
        "path of `mlflow models serve`).",
    )
    timeout: Duration = Field(
        timedelta(seconds=90),
        description="The command (or POST) and the wait for health together must finish in this; "
        "with the alias move it must fit the runbook step's timeout (2m by default).",
    )

    @field_validator("command", mode="before")
    @classmethod
    def _argv(cls, value: object) -> object:
        if isinstance(value, str):
            raise ValueError(
                "command is an argv list, e.g. [systemctl, restart, mlflow-serve]; for a shell "
                "pipeline use [sh, -c, '…']"
            )
        return value

    @model_validator(mode="after")
    def _one_way(self) -> ReloadConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("reload gives either command (an argv list) or url (POSTed to)")
        if self.command is not None and not self.command:
            raise ValueError("reload.command is empty: give the program and its arguments")
        if self.timeout <= timedelta(0):
            raise ValueError("reload.timeout must be longer than 0s")
        return self


class MlflowServing(_Serving):
    """Roll back by moving an MLflow registered-model alias (``models:/NAME@ALIAS``), then make
    the scoring server reload. Firewatch version ``3`` or ``v3`` is MLflow version 3."""

    type: Literal["mlflow"]
    tracking_uri: str = Field(
        min_length=1,
        description="MLflow tracking / registry URI: sqlite:///path/mlflow.db, "
        "postgresql://…, http://mlflow:5000 (credentials via MLflow's own MLFLOW_TRACKING_* "
        "environment variables).",
    )
    registered_model: str | None = Field(
        None, description="The MLflow registered model (default: this model's name)."
    )
    alias: str = Field("champion", min_length=1, description="The alias the server loads.")
    version_prefix: Literal["v", ""] = Field(
        "v",
        description="How `firewatch model sync` names MLflow versions in Firewatch: 'v' → v3, "
        "'' → 3. Both spellings map back to MLflow version 3.",
    )
    timeout: Duration = Field(
        timedelta(seconds=30), description="Longest wait for one MLflow registry call."
    )
    reload: ReloadConfig | None = Field(
        None,
        description="How the scoring server picks up the moved alias. Without it only the alias "
        "moves: right for servers that resolve the alias per request, not for `mlflow models "
        "serve`, which loads once.",
    )

    @field_validator("alias")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if re.fullmatch(r"[vV]\d+", value):
            raise ValueError(f"alias {value!r}: MLflow reserves v<number> aliases for versions")
        return value


class HttpServing(_Serving):
    """POST every registry move to a hook that makes the serving system follow (a KServe or
    Seldon controller); see docs/registries.md for the body and receiving-side examples."""

    type: Literal["http"]
    url: HttpUrl = Field(description="Where to POST; a 2xx answer means applied.")
    timeout: Duration = Field(
        timedelta(seconds=30), description="The receiver must answer within this."
    )
    secret_env: str | None = Field(
        None,
        description="Environment variable with a Standard Webhooks secret (whsec_…): the body "
        "is signed like the webhook channel's (webhook-id, webhook-timestamp, webhook-signature).",
    )
    bearer_token_env: str | None = Field(
        None, description="Environment variable with a token sent as Authorization: Bearer."
    )

    _env = field_validator("secret_env", "bearer_token_env")(_env_name)


ServingConfig = Annotated[BuiltinServing | MlflowServing | HttpServing, Field(discriminator="type")]
"""``models[].serving``: which adapter makes the serving system follow the registry."""


def serving_problem(serving: ServingConfig, *, model_url: str | None) -> str | None:
    """What is missing from a model's serving section given its url, or None when complete."""
    reload = serving.reload if isinstance(serving, MlflowServing) else None
    if reload is not None and reload.health_url is None and model_url is None:
        return (
            "serving.reload.health_url is needed: the model has no url to derive "
            f"<url>{MLFLOW_PING} from"
        )
    return None
