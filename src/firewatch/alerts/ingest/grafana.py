"""The Grafana unified alerting webhook's body (``version: "1"``) turned into Firewatch Alerts.

Usage: ``alerts = parse_grafana(request_body)``; anything malformed raises
``firewatch.errors.InvalidInput`` naming each problem's JSON path.

Grafana sends Alertmanager's shape plus ``orgId``, ``title``, ``state`` (``alerting``/``ok``)
and ``message`` at the top, and per alert ``silenceURL``, ``dashboardURL``, ``panelURL``,
``values``, ``valueString``, ``imageURL``. The checks are Alertmanager's (see
``firewatch.alerts.ingest.alertmanager``) with ``version`` ``"1"`` and ``alertname`` optional;
the per-alert ``status`` is authoritative (the top-level ``state`` is not read). Unknown fields
are ignored. Grafana's optional HMAC signature header is the API's job, not this parser's.

Mapping onto the shared labels:

===================== ==========================================================================
``source``            ``grafana`` (a different ``source`` label sent is kept as
                      ``upstream_source``)
``model``             ``labels.model``, else ``labels.service``, else absent
``version``           ``labels.version``, else ``labels.model_version``, else absent
``alertname``         ``labels.alertname``, else the body's ``title``, else ``GrafanaAlert``
``severity``          ``foreign_severity(labels.severity)``; SEV3 when absent or unknown
``upstream_severity`` the original ``labels.severity`` word when it is not SEV1..SEV4
other labels          unchanged (Grafana's own, e.g. ``grafana_folder``, included)
annotations           unchanged, plus when non-empty ``generatorURL``, ``silenceURL``,
                      ``dashboardURL``, ``panelURL``, ``imageURL``, ``valueString`` and
                      ``values`` (JSON text); an annotation of the same name the sender set wins
===================== ==========================================================================
"""

from __future__ import annotations

from typing import Any

from firewatch.alerts.ingest._webhook import Flavour, parse_webhook
from firewatch.alerts.schemas import Alert

__all__ = ["DEFAULT_ALERTNAME", "GRAFANA", "parse_grafana"]

DEFAULT_ALERTNAME = "GrafanaAlert"


def _title_or_default(root: dict[str, Any]) -> str:
    title = root.get("title")
    if type(title) is str and title.strip():
        return title.strip()
    return DEFAULT_ALERTNAME


GRAFANA = Flavour(
    sender="Grafana webhook",
    source="grafana",
    version="1",
    version_hint={"4": "this looks like an Alertmanager webhook: use the Alertmanager endpoint"},
    fallback_alertname=_title_or_default,
    string_extras=(
        "generatorURL",
        "silenceURL",
        "dashboardURL",
        "panelURL",
        "imageURL",
        "valueString",
    ),
    json_extras=("values",),
)


def parse_grafana(body: bytes) -> list[Alert]:
    """The alerts in a Grafana alerting webhook body; ``InvalidInput`` if anything is malformed."""
    return parse_webhook(body, GRAFANA)
