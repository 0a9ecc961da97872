"""Pydantic shapes of registry objects for the API and CLI."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

DEFAULT_MIN_HEALTHY_TIME = timedelta(minutes=5)
"""How long a version must have served healthily to be "last known good" (RollbackConfig)."""

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
    serving: str | None = None
    """What the serving adapter did, on the answer to a deploy or rollback of production."""


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
    min_healthy_time_s: float = Field(
        DEFAULT_MIN_HEALTHY_TIME.total_seconds(),
        description="The minimum healthy time last_known_good was judged with (seconds).",
    )
    traffic: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="Alias → {version: percent} for aliases whose traffic is split; an alias not "
        "here sends all its traffic to its version.",
    )
    active_region: str | None = Field(
        None, description="The region serving now after a failover; null: the primary."
    )


def check_weights(weights: dict[str, int]) -> dict[str, int]:
    """Version → percent: whole numbers from 0 to 100 summing to 100; ValueError naming the fault."""
    if not weights:
        raise ValueError("weights: give at least one version=percent")
    for version, weight in weights.items():
        check_name("version", version)
        if isinstance(weight, bool) or not isinstance(weight, int):
            raise ValueError(f"weight of {version} must be a whole number, got {weight!r}")
        if not 0 <= weight <= 100:
            raise ValueError(f"weight of {version} must be between 0 and 100, got {weight}")
    total = sum(weights.values())
    if total != 100:
        shown = ", ".join(f"{v}={w}" for v, w in weights.items())
        raise ValueError(f"weights must sum to 100, got {total} ({shown})")
    return weights


class TrafficIn(_In):
    alias: str = "production"
    weights: dict[str, StrictInt] = Field(
        description="Version → percent of the alias's traffic: whole numbers summing to 100. "
        "The alias's own version must be listed (0 drains it); one version at 100 clears the split."
    )
    reason: str = Field("", max_length=2000)

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: dict[str, int]) -> dict[str, int]:
        return check_weights(value)


class TrafficOut(BaseModel):
    model: str
    alias: str
    version: str | None = Field(description="The version the alias points to (deploy history).")
    weights: dict[str, int] = Field(description="Version → percent actually served.")
    split: bool = Field(description="True when traffic is shared by several versions.")
    actor: str | None = None
    reason: str | None = None
    updated_at: datetime | None = None


class AliasIn(_In):
    version: str


class AliasOut(BaseModel):
    model: str
    alias: str
    version: str


class RegionIn(_In):
    region: str = Field(description="A region of the model's configured endpoints.")
    reason: str = Field("", max_length=2000)


class RegionSwitchOut(BaseModel):
    model: str
    from_region: str | None
    to_region: str
    actor: str
    reason: str
    switched_at: datetime


class RegionOut(BaseModel):
    model: str
    active_region: str = Field(description="The region serving now (the primary until a switch).")
    regions: list[str] = Field(description="The configured endpoints' regions, primary first.")
    history: list[RegionSwitchOut] = Field(description="Recent switches, newest first.")
