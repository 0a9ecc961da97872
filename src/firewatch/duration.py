"""Human-readable durations (``30s``, ``5m``, ``2h``, ``1d``, ``1w``) for config files and CLI flags."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: str | float | int | timedelta) -> timedelta:
    """Parse ``"1h30m"``, ``"45s"``, ``"250ms"`` or a number of seconds into a timedelta.

    >>> parse_duration("1h30m")
    datetime.timedelta(seconds=5400)
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '30s', '5m', '2h' or '1d'")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=value)
    text = value.strip().lower().replace(" ", "")
    if not text:
        raise ValueError("expected a duration such as '30s', '5m', '2h' or '1d', got ''")
    pos, seconds = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise ValueError(f"expected a duration such as '30s', '5m', '2h' or '1d', got {value!r}")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """Render a timedelta the way people read it: ``1h 5m``, ``42s``, ``3d 2h``."""
    total = round(delta.total_seconds())
    if total < 0:
        return "-" + format_duration(-delta)
    if total == 0 and delta.total_seconds() > 0:
        return f"{int(delta.total_seconds() * 1000)}ms"
    parts: list[str] = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts[:2]) or "0s"


def _validate(value: Any) -> timedelta:
    if isinstance(value, str | int | float | timedelta):
        return parse_duration(value)
    raise ValueError("expected a duration such as '30s', '5m', '2h' or '1d'")


Duration = Annotated[
    timedelta,
    BeforeValidator(_validate),
    PlainSerializer(lambda d: format_duration(d).replace(" ", ""), return_type=str),
]
"""A pydantic field type accepting ``"5m"``-style strings or seconds."""
