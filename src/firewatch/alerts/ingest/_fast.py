"""The fast path for well-formed Alertmanager webhooks: msgspec decodes and type-checks the body
in C (about seven times faster than checking by hand), then the same mapping as the hand
validator. Anything it does not accept goes to the hand validator, which names every problem —
so the fast path decides nothing but speed."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from firewatch.alerts.ingest._common import ZERO_TIME, parse_time, set_severity
from firewatch.alerts.schemas import Alert, AlertStatus

_HEX = frozenset("0123456789abcdef")
_STATUS = {"firing": AlertStatus.FIRING, "resolved": AlertStatus.RESOLVED}


class _Alert(msgspec.Struct):
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    startsAt: str
    endsAt: str = ZERO_TIME
    annotations: dict[str, str] = msgspec.field(default_factory=dict)
    generatorURL: str = ""
    fingerprint: str = ""


class _Webhook(msgspec.Struct):
    version: Literal["4"]
    alerts: list[_Alert]


_DECODER = msgspec.json.Decoder(_Webhook)


_TIMES: dict[str, datetime | None] = {}
_UNSEEN = object()


def _time(text: str) -> datetime | None:
    """``parse_time``, remembered: the alerts of a batch mostly share their times."""
    found = _TIMES.get(text, _UNSEEN)
    if found is _UNSEEN:
        if len(_TIMES) > 4096:
            _TIMES.clear()
        try:
            found = _TIMES[text] = parse_time(text)
        except ValueError:
            found = _TIMES[text] = None
    return found  # type: ignore[return-value]


def fast_alertmanager(body: bytes, source: str) -> list[Alert] | None:
    """The alerts, or None when the body needs the hand validator (to accept it or explain)."""
    try:
        webhook = _DECODER.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    alerts = []
    for raw in webhook.alerts:
        labels = raw.labels
        fingerprint = raw.fingerprint
        starts = _time(raw.startsAt)
        ends_at = None if raw.endsAt == ZERO_TIME else _time(raw.endsAt)
        if (
            not labels.get("alertname")
            or starts is None
            or starts.year == 1
            or (raw.endsAt != ZERO_TIME and ends_at is None)
            or (fingerprint and (len(fingerprint) != 16 or not _HEX.issuperset(fingerprint)))
        ):
            return None
        annotations = raw.annotations
        if raw.generatorURL:
            annotations.setdefault("generatorURL", raw.generatorURL)
        if not labels.get("model") and labels.get("service"):
            labels["model"] = labels["service"]
        if not labels.get("version") and labels.get("model_version"):
            labels["version"] = labels["model_version"]
        set_severity(labels, labels.get("severity"))
        upstream = labels.get("source")
        if upstream is not None and upstream != source:
            labels["upstream_source"] = upstream
        labels["source"] = source
        alerts.append(
            Alert(
                labels, starts, annotations, _STATUS[raw.status], ends_at, None, fingerprint or None
            )
        )
    return alerts
