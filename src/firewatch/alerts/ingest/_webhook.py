"""The Alertmanager-shaped webhook body (Alertmanager ``version: "4"``, Grafana ``version: "1"``)
turned into Alerts: validation by hand, one pass, no per-alert models.

Each flavour names its sender, the ``version`` it speaks, whether ``alertname`` may be missing
and which extra per-alert fields it keeps as annotations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import orjson

from firewatch.alerts.ingest._common import (
    ZERO_TIME,
    Problems,
    child,
    describe,
    load_object,
    parse_time,
    set_severity,
    string_map_problems,
)
from firewatch.alerts.schemas import Alert, AlertStatus

_STATUSES = {"firing": AlertStatus.FIRING, "resolved": AlertStatus.RESOLVED}
_ALERT_FIELDS = (
    "labels",
    "starts_at",
    "annotations",
    "status",
    "ends_at",
    "signals",
    "fingerprint",
)
# Alerts are built with positional arguments, measurably faster than keywords on this path;
# fail at import rather than mix fields up if Alert's field order ever changes.
if tuple(f.name for f in fields(Alert))[: len(_ALERT_FIELDS)] != _ALERT_FIELDS:
    raise RuntimeError(f"firewatch.alerts.schemas.Alert fields changed; expected {_ALERT_FIELDS}")
_HEX = "0123456789abcdef"


@dataclass(frozen=True, slots=True)
class Flavour:
    """What differs between the senders of this shape."""

    sender: str  # for messages: "Alertmanager webhook"
    source: str  # the ``source`` label
    version: str  # the ``version`` the body must carry
    version_hint: dict[str, str]  # other versions → what the body probably is
    fallback_alertname: Callable[[dict[str, Any]], str] | None  # None: ``alertname`` required
    string_extras: tuple[str, ...] = ("generatorURL",)  # string fields kept as annotations
    json_extras: tuple[str, ...] = ()  # per-alert object fields kept as JSON annotations


def parse_webhook(body: bytes, flavour: Flavour) -> list[Alert]:
    """Every alert in the body, or ``InvalidInput`` listing what is wrong with it."""
    root = load_object(body, flavour.sender)
    problems = Problems()
    version = root.get("version")
    if version != flavour.version:
        got = "missing" if version is None else f"got {describe(version)}"
        hint = flavour.version_hint.get(version) if type(version) is str else None
        problems.add(
            "version",
            f'expected "{flavour.version}" ({flavour.sender} format), {got}'
            + (f" ({hint})" if hint else ""),
        )
    raw_alerts = root.get("alerts")
    if type(raw_alerts) is not list:
        got = "missing" if raw_alerts is None else f"got {describe(raw_alerts)}"
        problems.add("alerts", f"expected an array of alerts, {got}")
        problems.raise_if_any(flavour.sender)
        return []
    fallback = flavour.fallback_alertname(root) if flavour.fallback_alertname else None
    alerts: list[Alert] = []
    for index, raw in enumerate(raw_alerts):
        alert = _alert(raw, index, flavour, fallback, problems)
        if alert is not None:
            alerts.append(alert)
    problems.raise_if_any(flavour.sender)
    return alerts


def _alert(
    raw: Any, index: int, flavour: Flavour, fallback: str | None, problems: Problems
) -> Alert | None:
    if type(raw) is not dict:
        problems.add(f"alerts[{index}]", f"expected an alert object, got {describe(raw)}")
        return None
    before = problems.count
    labels: Any = raw.get("labels")
    if type(labels) is dict:
        for value in labels.values():
            if type(value) is not str:
                string_map_problems(labels, f"alerts[{index}].labels", problems)
                break
    else:
        _missing_or_wrong(raw, "labels", index, "an object of strings", problems)
    annotations = raw.get("annotations")
    if annotations is None:
        annotations = {}
    elif type(annotations) is dict:
        for value in annotations.values():
            if type(value) is not str:
                string_map_problems(annotations, f"alerts[{index}].annotations", problems)
                break
    else:
        string_map_problems(annotations, f"alerts[{index}].annotations", problems)
        annotations = {}  # the problem is reported; keep checking the other fields
    word = raw.get("status")
    status = _STATUSES.get(word) if type(word) is str else None
    if status is None:
        _missing_or_wrong(raw, "status", index, '"firing" or "resolved"', problems)
    text = raw.get("startsAt")
    starts_at = None  # stays None for the zero time: refused below
    if type(text) is not str:
        _missing_or_wrong(raw, "startsAt", index, "an RFC 3339 time", problems)
    elif text != ZERO_TIME:
        try:
            starts_at = parse_time(text)
        except ValueError as exc:
            problems.add(f"alerts[{index}].startsAt", str(exc))
    ends_at = None if raw.get("endsAt") == ZERO_TIME else _time(raw, "endsAt", index, problems)
    fingerprint = raw.get("fingerprint")
    if fingerprint is not None and (
        type(fingerprint) is not str
        or (fingerprint and (len(fingerprint) != 16 or fingerprint.strip(_HEX)))
    ):
        _missing_or_wrong(raw, "fingerprint", index, "16 lowercase hex digits", problems)
    for name in flavour.string_extras:
        value = raw.get(name)
        if value is not None and type(value) is not str:
            _missing_or_wrong(raw, name, index, "a string", problems)
        elif value:
            annotations.setdefault(name, value)
    for name in flavour.json_extras:
        value = raw.get(name)
        if value is not None and type(value) is not dict:
            _missing_or_wrong(raw, name, index, "an object", problems)
        elif value:
            annotations.setdefault(name, orjson.dumps(value).decode())
    if problems.count > before:
        return None
    if starts_at is None or starts_at.year == 1:
        problems.add(
            f"alerts[{index}].startsAt", "must be a real time, not Go's zero time (year 1)"
        )
        return None
    if not labels.get("alertname"):
        if fallback is None:
            problems.add(
                f"alerts[{index}].labels.alertname",
                f"missing; every {flavour.sender} alert needs an alertname label",
            )
            return None
        labels["alertname"] = fallback
    # The parsed body is ours alone: its labels dict is updated in place rather than copied.
    if not labels.get("model") and labels.get("service"):
        labels["model"] = labels["service"]
    if not labels.get("version") and labels.get("model_version"):
        labels["version"] = labels["model_version"]
    set_severity(labels, labels.get("severity"))
    upstream = labels.get("source")
    if upstream is not None and upstream != flavour.source:
        labels["upstream_source"] = upstream
    labels["source"] = flavour.source
    # Positional (see _ALERT_FIELDS); ``status`` is None only alongside a reported problem.
    return Alert(labels, starts_at, annotations, status, ends_at, None, fingerprint or None)  # type: ignore[arg-type]


def _time(raw: dict[str, Any], name: str, index: int, problems: Problems) -> datetime | None:
    """The field as an aware UTC datetime; None for Go's zero time (or after a problem)."""
    text = raw.get(name)
    if type(text) is not str:
        _missing_or_wrong(raw, name, index, "an RFC 3339 time", problems)
        return None
    if text == ZERO_TIME:
        return None
    try:
        moment = parse_time(text)
    except ValueError as exc:
        problems.add(f"alerts[{index}].{name}", str(exc))
        return None
    return None if moment.year == 1 and moment == _ZERO else moment


def _missing_or_wrong(
    raw: dict[str, Any], name: str, index: int, expected: str, problems: Problems
) -> None:
    path = child(f"alerts[{index}]", name)
    if name not in raw:
        problems.add(path, f"missing; expected {expected}")
    else:
        problems.add(path, f"expected {expected}, got {describe(raw[name])}")


_ZERO = parse_time(ZERO_TIME)
