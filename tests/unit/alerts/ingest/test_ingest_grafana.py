"""Grafana alerting webhook bodies become Alerts: Alertmanager's rules plus Grafana's version,
its alertname fallback and its extra links kept as annotations."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from firewatch.alerts.ingest import parse_alertmanager, parse_grafana
from firewatch.alerts.schemas import AlertStatus
from firewatch.errors import InvalidInput

FIXTURES = Path(__file__).parents[3] / "fixtures" / "grafana"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((FIXTURES / name).read_bytes())
    return data


def test_published_firing_example_parses() -> None:
    first, second = parse_grafana((FIXTURES / "webhook_firing.json").read_bytes())
    assert first.labels == {
        "alertname": "High memory usage",
        "team": "blue",
        "zone": "us-1",
        "severity": "SEV3",
        "source": "grafana",
    }
    assert first.status is AlertStatus.FIRING
    assert first.starts_at == datetime(2021, 10, 12, 7, 51, 3, 157076, tzinfo=UTC)
    assert first.ends_at is None
    assert first.fingerprint == "c6eadffa33fcdf37"
    assert first.annotations["summary"] == "This alert was triggered for zone us-1"
    assert first.annotations["generatorURL"] == "https://play.grafana.org/alerting/1afz29v7z/edit"
    assert first.annotations["silenceURL"].startswith("https://play.grafana.org/alerting/silence/")
    assert orjson.loads(first.annotations["values"]) == {"B": 44.23943737541908, "C": 1}
    assert "dashboardURL" not in first.annotations  # sent empty
    assert first.model is None
    assert (second.alertname, second.fingerprint) == ("High CPU usage", "bc97ff14869b13e3")


def test_resolved_example_keeps_grafana_links_and_maps_model_labels() -> None:
    [alert] = parse_grafana((FIXTURES / "webhook_resolved.json").read_bytes())
    assert alert.status is AlertStatus.RESOLVED
    assert alert.ends_at == datetime(2021, 10, 12, 8, 1, 3, 157076, tzinfo=UTC)
    assert (alert.model, alert.labels["version"]) == ("fraud-detector", "v3")
    assert (alert.labels["severity"], alert.labels["upstream_severity"]) == ("SEV3", "warning")
    assert alert.annotations["dashboardURL"] == "https://play.grafana.org/d/000000012"
    assert alert.annotations["panelURL"] == "https://play.grafana.org/d/000000012?viewPanel=2"
    assert alert.annotations["valueString"].startswith("[ metric=''")
    assert "imageURL" not in alert.annotations
    assert "values" not in alert.annotations


def test_an_annotation_the_sender_set_wins_over_an_extra_of_the_same_name() -> None:
    raw = fixture("webhook_resolved.json")
    raw["alerts"][0]["annotations"]["dashboardURL"] = "https://mine"
    [alert] = parse_grafana(orjson.dumps(raw))
    assert alert.annotations["dashboardURL"] == "https://mine"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("[FIRING:1] DiskFull", "[FIRING:1] DiskFull"),
        ("  ", "GrafanaAlert"),
        (None, "GrafanaAlert"),
    ],
)
def test_a_missing_alertname_falls_back_to_the_title_then_a_default(
    title: str | None, expected: str
) -> None:
    raw = fixture("webhook_firing.json")
    del raw["alerts"][0]["labels"]["alertname"]
    raw["title"] = title
    first, _ = parse_grafana(orjson.dumps(raw))
    assert first.alertname == expected


def test_grafana_and_alertmanager_bodies_are_told_apart_by_version() -> None:
    grafana_body = (FIXTURES / "webhook_firing.json").read_bytes()
    with pytest.raises(InvalidInput, match=r'version: expected "4".*got "1".*Grafana'):
        parse_alertmanager(grafana_body)
    raw = fixture("webhook_firing.json")
    raw["version"] = "4"
    with pytest.raises(InvalidInput, match=r'version: expected "1".*got "4".*Alertmanager'):
        parse_grafana(orjson.dumps(raw))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("dashboardURL", 5, "alerts[1].dashboardURL: expected a string, got 5"),
        ("valueString", ["x"], "alerts[1].valueString: expected a string, got an array"),
        ("values", "B=1", 'alerts[1].values: expected an object, got "B=1"'),
        ("fingerprint", "not-a-fingerprint", "alerts[1].fingerprint: expected 16 lowercase hex"),
        ("endsAt", "soon", 'alerts[1].endsAt: expected an RFC 3339 time, got "soon"'),
    ],
)
def test_malformed_grafana_fields_are_refused_naming_the_path(
    field: str, value: object, message: str
) -> None:
    raw = fixture("webhook_firing.json")
    raw["alerts"][1][field] = value
    with pytest.raises(InvalidInput) as caught:
        parse_grafana(orjson.dumps(raw))
    assert caught.value.message.startswith("invalid Grafana webhook: ")
    assert message in caught.value.message


def test_top_level_grafana_fields_of_any_shape_are_ignored() -> None:
    raw = fixture("webhook_firing.json")
    raw.update(orgId="one", state=None, message=["x"], title=7)
    first, _ = parse_grafana(orjson.dumps(raw))
    assert first.alertname == "High memory usage"
