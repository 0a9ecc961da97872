"""Pydantic shapes of registry objects for the API and CLI."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
NAME_RULE = (
    "1-100 characters: letters, digits, '.', '_', ':' or '-', starting with a letter or digit"
)


def check_name(kind: str, value: str) -> str:
    if not NAME_PATTERN.match(value):
        raise ValueError(f"a {kind} name is {NAME_RULE}")
    return value


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class VersionIn(_In):
    version: str
    description: str = Field("", max_length=5000)
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Free-form: artifact URI, algorithm, metrics, ..."
    )

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        return check_name("version", value)


class DeployIn(_In):
    version: str
    alias: str = "production"
    reason: str = Field("", max_length=2000)


class RollbackIn(_In):
    to: str | None = Field(None, description="Target version; default: the last known good one.")
    alias: str = "production"
    reason: str = Field("", max_length=2000)


class VersionOut(BaseModel):
    version: str
    description: str
    metadata: dict[str, Any]
    created_at: datetime


class DeploymentOut(BaseModel):
    model: str
    version: str
    previous_version: str | None
    alias: str
    kind: str
    actor: str
    reason: str
    deployed_at: datetime
    ended_at: datetime | None
    first_healthy_at: datetime | None
    failed_at: datetime | None


class ModelOut(BaseModel):
    name: str
    description: str
    created_at: datetime
    aliases: dict[str, str]
    versions: list[VersionOut]
    production: DeploymentOut | None = Field(description="The live production deployment.")
    last_known_good: str | None = Field(
        description="The version a rollback of production would go to."
    )
