"""The Alertmanager webhook receiver's body (``version: "4"``) turned into Firewatch Alerts.

Usage: ``alerts = parse_alertmanager(request_body)``; anything malformed raises
``firewatch.errors.InvalidInput`` naming each problem's JSON path (``alerts[3].labels.severity:
expected a string, got 5``), malformed JSON with code ``malformed_json``.

What is checked (unknown fields anywhere are ignored: newer Alertmanagers add some):

* ``version`` is ``"4"``; ``alerts`` is an array (it may be empty).
* per alert: ``labels`` an object of strings with a non-empty ``alertname``; ``status``
  ``firing`` or ``resolved``; ``startsAt`` and ``endsAt`` RFC 3339 times (nanosecond fractions
  are cut to microseconds; times are returned in UTC). ``endsAt`` of Go's zero time
  ``0001-01-01T00:00:00Z`` (what firing alerts carry) gives ``ends_at=None``; a zero
  ``startsAt`` is rejected. Optional ``annotations`` (object of strings), ``generatorURL``
  (string) and ``fingerprint`` (16 lowercase hex digits, kept in ``Alert.fingerprint``; it is
  the sender's fingerprint of the labels it sent, before the mapping below).

Mapping onto the shared labels:

===================== ==========================================================================
``source``            ``alertmanager`` (a different ``source`` label sent is kept as
                      ``upstream_source``)
``model``             ``labels.model``, else ``labels.service``, else absent
``version``           ``labels.version``, else ``labels.model_version``, else absent
``alertname``         ``labels.alertname`` (required)
``severity``          ``foreign_severity(labels.severity)``; SEV3 when absent or unknown
``upstream_severity`` the original ``labels.severity`` word when it is not SEV1..SEV4
other labels          unchanged
annotations           unchanged, plus ``generatorURL`` when sent (an annotation of that name
                      the sender set wins)
===================== ==========================================================================
"""

from __future__ import annotations

from firewatch.alerts.ingest._fast import fast_alertmanager
from firewatch.alerts.ingest._webhook import Flavour, parse_webhook
from firewatch.alerts.schemas import Alert

__all__ = ["ALERTMANAGER", "parse_alertmanager"]

ALERTMANAGER = Flavour(
    sender="Alertmanager webhook",
    source="alertmanager",
    version="4",
    version_hint={"1": "this looks like a Grafana alerting webhook: use the Grafana endpoint"},
    fallback_alertname=None,
)


def parse_alertmanager(body: bytes) -> list[Alert]:
    """The alerts in an Alertmanager webhook body; ``InvalidInput`` if anything is malformed."""
    alerts = fast_alertmanager(body, ALERTMANAGER.source)
    return alerts if alerts is not None else parse_webhook(body, ALERTMANAGER)
