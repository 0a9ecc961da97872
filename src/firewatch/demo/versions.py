"""What a registry version asks the demo service to be: its algorithm and injected breakage."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from firewatch.demo.models import ALGORITHMS, DEFAULT_ALGORITHM

DEFAULT_BROKEN_RATE = 0.5
DEFAULT_BROKEN_LATENCY_MS = 1500


class BrokenMode(StrEnum):
    """The ways ``metadata.broken`` can break a version."""

    CRASH = "crash"
    ERRORS = "errors"
    SLOW = "slow"
    INACCURATE = "inaccurate"


@dataclass(frozen=True)
class VersionSpec:
    """A registry version as the service reads it; ``invalid`` says why it cannot be loaded."""

    version: str
    algorithm: str = DEFAULT_ALGORITHM
    broken: BrokenMode | None = None
    broken_rate: float = 0.0
    broken_latency_ms: int = 0
    invalid: str | None = None


class _BadMetadata(ValueError):
    """A metadata value the service cannot honour."""


def spec_from_metadata(version: str, metadata: Mapping[str, object]) -> VersionSpec:
    """Read ``algorithm``, ``broken``, ``broken_rate``, ``broken_latency_ms`` from version metadata.

    Metadata the service cannot honour does not raise: it yields a spec whose ``invalid`` names the
    problem, so the version "fails to load" the way a real bad deployment would.
    """
    algorithm = str(metadata.get("algorithm") or DEFAULT_ALGORITHM)
    try:
        broken = _broken_mode(metadata.get("broken"))
        rate = _rate(metadata) if broken is BrokenMode.ERRORS else 0.0
        latency = _latency_ms(metadata) if broken is BrokenMode.SLOW else 0
    except _BadMetadata as exc:
        return VersionSpec(version, algorithm, invalid=str(exc))
    invalid = None
    if algorithm not in ALGORITHMS:
        known = ", ".join(sorted(ALGORITHMS))
        invalid = f"unknown algorithm {algorithm!r} in metadata.algorithm (known: {known})"
    return VersionSpec(version, algorithm, broken, rate, latency, invalid)


def _broken_mode(value: object) -> BrokenMode | None:
    if value is None or value == "" or value is False:
        return None
    try:
        return BrokenMode(str(value).strip().lower())
    except ValueError:
        known = ", ".join(mode.value for mode in BrokenMode)
        raise _BadMetadata(f"unknown metadata.broken {value!r} (known: {known})") from None


def _number(metadata: Mapping[str, object], key: str, default: float) -> float:
    value = metadata.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise _BadMetadata(f"metadata.{key} must be a number, got {value!r}")
    try:
        number = float(str(value))
    except ValueError:
        raise _BadMetadata(f"metadata.{key} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise _BadMetadata(f"metadata.{key} must be finite, got {value!r}")
    return number


def _rate(metadata: Mapping[str, object]) -> float:
    rate = _number(metadata, "broken_rate", DEFAULT_BROKEN_RATE)
    if not 0.0 <= rate <= 1.0:
        raise _BadMetadata(f"metadata.broken_rate must be between 0 and 1, got {rate}")
    return rate


def _latency_ms(metadata: Mapping[str, object]) -> int:
    latency = _number(metadata, "broken_latency_ms", DEFAULT_BROKEN_LATENCY_MS)
    if latency < 0:
        raise _BadMetadata(f"metadata.broken_latency_ms cannot be negative, got {latency}")
    return round(latency)
