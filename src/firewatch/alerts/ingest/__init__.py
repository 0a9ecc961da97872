"""Ingest adapters: other tools' alert bodies (Alertmanager, Grafana, PagerDuty Events API v2)
parsed, validated and mapped onto Firewatch ``Alert`` objects, with no I/O and no clock reads.

Usage::

    alerts = parse_alertmanager(body)            # list[Alert]
    alerts = parse_grafana(body)                 # list[Alert]
    event = parse_pagerduty(body, received_at=now)  # PagerDutyEvent(routing_key, action,
                                                    #   dedup_key, alert)

Anything malformed raises ``firewatch.errors.InvalidInput`` (HTTP 422) whose message names the
first problem and its JSON path (``alerts[3].labels.severity: expected a string, got 5``) and
whose ``details["errors"]`` lists up to 20 problems as ``{"field", "problem"}`` (``omitted``
counts the rest). Codes: ``malformed_json`` (not JSON), ``payload_too_large`` (PagerDuty body
over 512 KB), else ``invalid_input``. Unknown fields are ignored everywhere. Times come back
as aware UTC datetimes.

How each sender maps onto the shared labels (severity words by
``firewatch.severity.foreign_severity``, see docs/severity.md):

===================== ===================================== ======================================
label                 Alertmanager (v4) / Grafana (v1)      PagerDuty Events API v2
===================== ===================================== ======================================
``source``            ``alertmanager`` / ``grafana``; a     ``pagerduty``; ``payload.source`` is
                      different ``source`` label sent is    kept as ``upstream_source``
                      kept as ``upstream_source``
``model``             ``labels.model``, else                ``custom_details.model`` if a string,
                      ``labels.service``, else absent       else ``payload.component``, else
                                                            ``payload.source``
``version``           ``labels.version``, else              ``custom_details.version``, else
                      ``labels.model_version``              ``custom_details.model_version``
``alertname``         ``labels.alertname`` (required by     ``payload.class``, else
                      Alertmanager; Grafana falls back to   ``PagerDutyEvent``
                      the body's ``title``, then
                      ``GrafanaAlert``)
``severity``          ``foreign_severity(labels.severity)`` ``foreign_severity(payload.severity)``
                      SEV3 when absent or unknown           SEV3 when absent (ack/resolve)
``upstream_severity`` the original word when it is not      the original word
                      SEV1..SEV4
other labels          unchanged                             ``group``, ``class``, ``component``
                                                            from the payload when present
annotations           unchanged; plus ``generatorURL``      ``custom_details`` entries flattened
                      (Grafana also ``silenceURL``,         (non-strings as JSON), ``summary``,
                      ``dashboardURL``, ``panelURL``,       ``links``/``images`` (JSON),
                      ``imageURL``, ``valueString``,        ``client``, ``client_url``
                      ``values`` as JSON) when non-empty
status                ``status`` firing/resolved            trigger → FIRING, acknowledge →
                                                            ACKNOWLEDGED, resolve → RESOLVED
identity              ``Alert.fingerprint`` = the sender's  ``Alert.dedup_key`` = ``dedup_key``
                      ``fingerprint`` (16 lowercase hex)    (generated on a trigger without one)
===================== ===================================== ======================================
"""

from __future__ import annotations

from firewatch.alerts.ingest.alertmanager import parse_alertmanager
from firewatch.alerts.ingest.grafana import parse_grafana
from firewatch.alerts.ingest.pagerduty import PagerDutyEvent, parse_pagerduty

__all__ = ["PagerDutyEvent", "parse_alertmanager", "parse_grafana", "parse_pagerduty"]
