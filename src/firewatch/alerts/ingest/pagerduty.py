"""The PagerDuty Events API v2 body (``POST /v2/enqueue``) turned into a Firewatch Alert.

Usage: ``event = parse_pagerduty(request_body, received_at=now)``; the API answers 202 with
``event.dedup_key`` (generated here for a trigger that sent none, as PagerDuty does). Anything
malformed raises ``firewatch.errors.InvalidInput`` naming each problem's JSON path; malformed
JSON has code ``malformed_json``, a body over 512 KB ``payload_too_large``.

The rules PagerDuty enforces: ``routing_key`` a non-empty string (this module only parses it:
checking it against issued integration keys is the API's job); ``event_action`` one of
``trigger``, ``acknowledge``, ``resolve``; ``dedup_key`` at most 255 characters, required to
acknowledge or resolve; a trigger needs ``payload`` with ``summary`` (at most 1024 characters),
``source`` and ``severity`` (``critical``, ``error``, ``warning`` or ``info``). Optional:
``payload.timestamp`` (ISO 8601, UTC when it has no offset; default ``received_at``),
``payload.component``, ``group``, ``class``, ``custom_details`` (any JSON), and at the top
``links`` (``[{href, text?}]``), ``images`` (``[{src, href?, alt?}]``), ``client``,
``client_url``. An acknowledge or resolve may carry a ``payload``; what it has is checked and
used. Unknown fields are ignored.

Mapping onto the shared labels:

===================== ==========================================================================
``source``            ``pagerduty``
``model``             ``custom_details.model`` if a string, else ``payload.component``, else
                      ``payload.source``, else absent
``version``           ``custom_details.version``, else ``custom_details.model_version``
``alertname``         ``payload.class``, else ``PagerDutyEvent``
``severity``          ``foreign_severity(payload.severity)`` (critical→SEV1, error→SEV2,
                      warning→SEV3, info→SEV4); SEV3 when absent (acknowledge/resolve)
``upstream_severity`` the original ``payload.severity`` word
``group``             ``payload.group`` when present
``class``             ``payload.class`` when present
``component``         ``payload.component`` when present
``upstream_source``   ``payload.source``
annotations           each top-level ``custom_details`` entry (non-strings as JSON text; a
                      custom_details that is not an object becomes ``custom_details``), then
                      ``summary``, ``links`` and ``images`` (JSON text), ``client``,
                      ``client_url``, which win over custom details of the same name
===================== ==========================================================================

``Alert.status``: trigger → FIRING, acknowledge → ACKNOWLEDGED, resolve → RESOLVED (with
``ends_at`` the event's time). ``Alert.dedup_key`` is the dedup key; the routing key is never
copied into labels or annotations.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from firewatch.alerts.ingest._common import (
    ROOT,
    Problems,
    child,
    describe,
    load_object,
    parse_time,
    set_severity,
)
from firewatch.alerts.schemas import Alert, AlertStatus
from firewatch.errors import InvalidInput

__all__ = [
    "ACTIONS",
    "DEFAULT_ALERTNAME",
    "MAX_BODY_BYTES",
    "MAX_DEDUP_KEY_CHARS",
    "MAX_SUMMARY_CHARS",
    "SEVERITIES",
    "PagerDutyEvent",
    "parse_pagerduty",
]

MAX_BODY_BYTES = 512 * 1024
MAX_SUMMARY_CHARS = 1024
MAX_DEDUP_KEY_CHARS = 255
SEVERITIES = ("critical", "error", "warning", "info")
DEFAULT_ALERTNAME = "PagerDutyEvent"
_SENDER = "PagerDuty event"
_STATUSES = {
    "trigger": AlertStatus.FIRING,
    "acknowledge": AlertStatus.ACKNOWLEDGED,
    "resolve": AlertStatus.RESOLVED,
}
ACTIONS = tuple(_STATUSES)
_LINK_FIELDS = ("href", "text")
_IMAGE_FIELDS = ("src", "href", "alt")


@dataclass(frozen=True, slots=True)
class PagerDutyEvent:
    """One Events API v2 event: where it was sent, what it does and the alert it carries."""

    routing_key: str
    action: str  # trigger | acknowledge | resolve
    dedup_key: str  # as sent, or generated for a trigger that sent none
    alert: Alert


def _new_dedup_key() -> str:
    return uuid.uuid4().hex


def parse_pagerduty(
    body: bytes, *, received_at: datetime, new_dedup_key: Callable[[], str] = _new_dedup_key
) -> PagerDutyEvent:
    """The event in an Events API v2 body; ``InvalidInput`` if anything is malformed.

    ``received_at`` (timezone-aware) is the event's time when ``payload.timestamp`` is absent;
    ``new_dedup_key`` makes the key of a trigger that sent none (a UUID4 in hex by default).
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    if len(body) > MAX_BODY_BYTES:
        problem = f"the body is {len(body)} bytes; the limit is {MAX_BODY_BYTES} (512 KB)"
        raise InvalidInput(
            f"invalid {_SENDER}: {problem}",
            code="payload_too_large",
            details={"errors": [{"field": ROOT, "problem": problem}]},
        )
    root = load_object(body, _SENDER)
    problems = Problems()
    routing_key: Any = root.get("routing_key")
    if type(routing_key) is not str or not routing_key:
        _wrong(root, "routing_key", ROOT, "a non-empty string (the integration key)", problems)
    action: Any = root.get("event_action")
    if type(action) is not str or action not in _STATUSES:
        _wrong(root, "event_action", ROOT, "one of trigger, acknowledge, resolve", problems)
    dedup_key = _dedup_key(root, action, problems)
    payload = root.get("payload")
    fields: dict[str, Any] = {}
    if payload is None and action == "trigger":
        problems.add("payload", "missing; a trigger needs a payload with summary, source, severity")
    elif payload is not None and type(payload) is not dict:
        problems.add("payload", f"expected an object, got {describe(payload)}")
    elif payload is not None:
        fields = _payload(payload, required=action == "trigger", problems=problems)
    extras = _context(root, problems)
    problems.raise_if_any(_SENDER)
    # Checked above: the routing key and action are valid strings.
    status = _STATUSES[action]
    starts_at = fields.get("timestamp") or received_at.astimezone(UTC)
    key = dedup_key or new_dedup_key()
    alert = Alert(
        labels=_labels(fields),
        starts_at=starts_at,
        annotations=_annotations(fields, extras),
        status=status,
        ends_at=starts_at if status is AlertStatus.RESOLVED else None,
        dedup_key=key,
    )
    return PagerDutyEvent(routing_key=routing_key, action=action, dedup_key=key, alert=alert)


def _dedup_key(root: dict[str, Any], action: object, problems: Problems) -> str | None:
    key = root.get("dedup_key")
    if key is None or key == "":
        if action in ("acknowledge", "resolve"):
            problems.add("dedup_key", f"missing; required to {action} an alert")
        return None
    if type(key) is not str:
        problems.add("dedup_key", f"expected a string, got {describe(key)}")
        return None
    if len(key) > MAX_DEDUP_KEY_CHARS:
        problems.add(
            "dedup_key", f"is {len(key)} characters long; at most {MAX_DEDUP_KEY_CHARS} allowed"
        )
    return key


def _payload(payload: dict[str, Any], *, required: bool, problems: Problems) -> dict[str, Any]:
    """The payload's known fields, checked; ``timestamp`` parsed to a UTC datetime."""
    fields: dict[str, Any] = {}
    for name in ("summary", "source", "severity", "timestamp", "component", "group", "class"):
        value = payload.get(name)
        if value is None or (value == "" and name not in ("summary", "source", "severity")):
            if required and name in ("summary", "source", "severity"):
                problems.add(f"payload.{name}", "missing; required for a trigger")
            continue
        if type(value) is not str:
            problems.add(f"payload.{name}", f"expected a string, got {describe(value)}")
        elif name in ("summary", "source") and not value.strip():
            problems.add(f"payload.{name}", "must not be empty")
        elif name == "summary" and len(value) > MAX_SUMMARY_CHARS:
            problems.add(
                "payload.summary",
                f"is {len(value)} characters long; at most {MAX_SUMMARY_CHARS} allowed",
            )
        elif name == "severity" and value not in SEVERITIES:
            problems.add(
                "payload.severity",
                f"expected one of {', '.join(SEVERITIES)}, got {describe(value)}",
            )
        elif name == "timestamp":
            try:
                fields[name] = parse_time(value, naive_is_utc=True)
            except ValueError as exc:
                problems.add("payload.timestamp", str(exc).replace("RFC 3339", "ISO 8601"))
        else:
            fields[name] = value
    details = payload.get("custom_details")
    if details is not None:
        fields["custom_details"] = details
    return fields


def _context(root: dict[str, Any], problems: Problems) -> dict[str, str]:
    """``links``, ``images``, ``client`` and ``client_url``, checked, as annotation text."""
    extras: dict[str, str] = {}
    for name, fields, needed in (("links", _LINK_FIELDS, "href"), ("images", _IMAGE_FIELDS, "src")):
        items = root.get(name)
        if items is None:
            continue
        if type(items) is not list:
            problems.add(name, f"expected an array of objects, got {describe(items)}")
            continue
        before = problems.count
        for index, item in enumerate(items):
            path = f"{name}[{index}]"
            if type(item) is not dict:
                problems.add(path, f"expected an object, got {describe(item)}")
                continue
            if type(item.get(needed)) is not str or not item[needed]:
                _wrong(item, needed, path, "a non-empty string (a URL)", problems)
            for field in fields:
                value = item.get(field)
                if field != needed and value is not None and type(value) is not str:
                    problems.add(child(path, field), f"expected a string, got {describe(value)}")
        if items and problems.count == before:
            kept = [{f: item[f] for f in fields if item.get(f) is not None} for item in items]
            extras[name] = orjson.dumps(kept).decode()
    for name in ("client", "client_url"):
        value = root.get(name)
        if value is not None and type(value) is not str:
            problems.add(name, f"expected a string, got {describe(value)}")
        elif value:
            extras[name] = value
    return extras


def _labels(fields: dict[str, Any]) -> dict[str, str]:
    details = fields.get("custom_details")
    details = details if type(details) is dict else {}
    labels = {"alertname": fields.get("class") or DEFAULT_ALERTNAME, "source": "pagerduty"}
    model = _text(details.get("model")) or fields.get("component") or fields.get("source")
    if model:
        labels["model"] = model
    version = _text(details.get("version")) or _text(details.get("model_version"))
    if version:
        labels["version"] = version
    for name in ("group", "class", "component"):
        if fields.get(name):
            labels[name] = fields[name]
    if fields.get("source"):
        labels["upstream_source"] = fields["source"]
    set_severity(labels, fields.get("severity"))
    return labels


def _annotations(fields: dict[str, Any], extras: dict[str, str]) -> dict[str, str]:
    annotations: dict[str, str] = {}
    details = fields.get("custom_details")
    if type(details) is dict:
        for key, value in details.items():
            annotations[key] = value if type(value) is str else orjson.dumps(value).decode()
    elif details is not None:
        text = details if type(details) is str else orjson.dumps(details).decode()
        annotations["custom_details"] = text
    if fields.get("summary"):
        annotations["summary"] = fields["summary"]
    annotations.update(extras)
    return annotations


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _wrong(raw: dict[str, Any], name: str, parent: str, expected: str, problems: Problems) -> None:
    path = child(parent, name)
    if name not in raw:
        problems.add(path, f"missing; expected {expected}")
    else:
        problems.add(path, f"expected {expected}, got {describe(raw[name])}")
