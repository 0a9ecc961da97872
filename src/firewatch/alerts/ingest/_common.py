"""Helpers the ingest adapters share: JSON loading, problem collection, times and core labels.

Everything here is on the hot ingest path: checks are plain ``type(x) is T`` tests and error
text (paths, value descriptions) is only built once something is wrong.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson

from firewatch.errors import InvalidInput
from firewatch.severity import FOREIGN_SEVERITIES, Severity, foreign_severity

MAX_PROBLEMS = 20
"""How many problems an ``InvalidInput`` lists in ``details.errors``; the rest are counted."""

ROOT = "$"
"""The field name used for problems with the body as a whole."""

ZERO_TIME = "0001-01-01T00:00:00Z"
"""Go's zero ``time.Time``: what Alertmanager and Grafana send as ``endsAt`` while firing."""

DEFAULT_SEVERITY = Severity.SEV3
"""The severity of an alert that names none, or a word not in the foreign-severity table."""

_CANONICAL_SEVERITIES = frozenset(s.value for s in Severity)
_KNOWN_SEVERITIES = {**FOREIGN_SEVERITIES, **{s.value: s for s in Severity}}
"""foreign_severity() of the words as written in the table and SEV1..SEV4: a lookup, no call."""
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MORE_DIGITS = re.compile(r"\d*")


class Problems:
    """Collects what is wrong with a body, each with its JSON path, then raises them together."""

    __slots__ = ("count", "errors")

    def __init__(self) -> None:
        self.errors: list[dict[str, str]] = []
        self.count = 0

    def add(self, field: str, problem: str) -> None:
        self.count += 1
        if len(self.errors) < MAX_PROBLEMS:
            self.errors.append({"field": field, "problem": problem})

    def raise_if_any(self, sender: str) -> None:
        """Raise ``InvalidInput`` naming the first problem (all of them in ``details``), if any."""
        if not self.count:
            return
        first = self.errors[0]
        message = f"invalid {sender}: {first['field']}: {first['problem']}"
        if self.count > 1:
            more = self.count - 1
            message += f" (and {more} more problem{'s' if more > 1 else ''}, see details.errors)"
        details: dict[str, Any] = {"errors": self.errors}
        if self.count > len(self.errors):
            details["omitted"] = self.count - len(self.errors)
        raise InvalidInput(message, details=details)


def load_json(body: bytes, sender: str) -> Any:
    """The decoded body; ``InvalidInput`` (code ``malformed_json``) when it is not JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        problem = f"malformed JSON: {exc}"
        raise InvalidInput(
            f"invalid {sender}: {problem}",
            code="malformed_json",
            details={"errors": [{"field": ROOT, "problem": problem}]},
        ) from None


def load_object(body: bytes, sender: str) -> dict[str, Any]:
    """The decoded body, which must be a JSON object."""
    root = load_json(body, sender)
    if type(root) is not dict:
        problems = Problems()
        problems.add(ROOT, f"expected a JSON object, got {describe(root)}")
        problems.raise_if_any(sender)
    return root  # type: ignore[no-any-return]


def child(parent: str, key: str) -> str:
    """The path of ``parent``'s member ``key``: ``a.b`` or ``a["odd key"]``."""
    if _IDENTIFIER.fullmatch(key) and len(key) <= 60:
        return f"{key}" if parent == ROOT else f"{parent}.{key}"
    quoted = orjson.dumps(key if len(key) <= 60 else f"{key[:57]}...").decode()
    return f"{'' if parent == ROOT else parent}[{quoted}]"


def describe(value: object) -> str:
    """A short description of a JSON value for an error message: ``5``, ``"abc"``, ``an array``."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    text = orjson.dumps(value).decode() if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def string_map_problems(value: object, path: str, problems: Problems) -> bool:
    """Check that ``value`` is an object of strings; report each offending entry. True if fine."""
    if type(value) is not dict:
        problems.add(path, f"expected an object of strings, got {describe(value)}")
        return False
    before = problems.count
    for key, item in value.items():
        if type(item) is not str:
            problems.add(child(path, key), f"expected a string, got {describe(item)}")
    return problems.count == before


def parse_time(text: str, *, naive_is_utc: bool = False) -> datetime:
    """An RFC 3339 / ISO 8601 time as an aware UTC datetime; ``ValueError`` says what is wrong.

    Fractions beyond microseconds (Go sends nanoseconds) are cut, not rounded. A time without a
    UTC offset is rejected unless ``naive_is_utc``.
    """
    if len(text) > 27 and text[19] == ".":
        # Go's layout with more than six fraction digits: cut them before fromisoformat.
        if text[-1] == "Z" and text[26:-1].isdigit():
            text = text[:26] + "Z"
        elif text[20:26].isdigit():
            text = text[:26] + text[_MORE_DIGITS.match(text, 26).end() :]  # type: ignore[union-attr]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected an RFC 3339 time, got {describe(text)}") from None
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise ValueError(f"expected an RFC 3339 time with a UTC offset, got {describe(text)}")
        return moment.replace(tzinfo=UTC)
    if moment.tzinfo is not UTC:
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:
            raise ValueError(f"time out of range: {describe(text)}") from None
    return moment


def set_severity(labels: dict[str, str], word: str | None) -> None:
    """Map another tool's severity word onto ``severity``; keep a non-SEV word as
    ``upstream_severity``. Absent or unknown words give SEV3."""
    severity = (_KNOWN_SEVERITIES.get(word) or foreign_severity(word)) if word else None
    # The member itself (a str): Alert.__post_init__ takes Severity.parse's fast path for it
    # and stores the plain value.
    labels["severity"] = severity or DEFAULT_SEVERITY
    if word and word not in _CANONICAL_SEVERITIES:
        labels["upstream_severity"] = word
