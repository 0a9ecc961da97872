"""Label matchers with Alertmanager's semantics: ``name=value``, ``!=``, ``=~`` and ``!~`` (regular
expressions anchored at both ends; a missing label matches as the empty string)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from firewatch.errors import InvalidInput

_TEXT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


@dataclass(frozen=True)
class Matcher:
    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.is_regex:
            try:
                object.__setattr__(self, "_pattern", re.compile(f"(?:{self.value})\\Z"))
            except re.error as exc:
                raise InvalidInput(
                    f"matcher {self}: invalid regular expression: {exc}", code="invalid_matcher"
                ) from None

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self._pattern is not None:
            hit = self._pattern.match(actual) is not None
        else:
            hit = actual == self.value
        return hit == self.is_equal

    def __str__(self) -> str:
        op = (
            ("=~" if self.is_equal else "!~") if self.is_regex else ("=" if self.is_equal else "!=")
        )
        return f"{self.name}{op}{self.value}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.is_regex,
            "isEqual": self.is_equal,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Matcher:
        return cls(
            str(data["name"]),
            str(data["value"]),
            bool(data.get("isRegex", False)),
            bool(data.get("isEqual", True)),
        )


def parse_matcher(text: str) -> Matcher:
    """``model=iris``, ``alertname=~High.*``, ``team!=ml``, ``env!~dev|test`` (quotes optional)."""
    found = _TEXT.match(text)
    if found is None:
        raise InvalidInput(
            f"invalid matcher {text!r}: expected name=value, name!=value, name=~regex or "
            "name!~regex",
            code="invalid_matcher",
        )
    name, op, value = found.groups()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return Matcher(name, value, is_regex=op in ("=~", "!~"), is_equal=op in ("=", "=~"))


def parse_matchers(texts: Iterable[str]) -> tuple[Matcher, ...]:
    return tuple(parse_matcher(t) for t in texts)


def match_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
