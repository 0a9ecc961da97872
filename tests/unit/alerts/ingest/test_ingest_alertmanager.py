"""Alertmanager webhook bodies become Alerts with the shared labels; malformed ones are refused
with the JSON path of every problem."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from firewatch.alerts.fingerprint import fingerprint
from firewatch.alerts.ingest import parse_alertmanager
from firewatch.alerts.schemas import AlertStatus
from firewatch.errors import InvalidInput

FIXTURES = Path(__file__).parents[3] / "fixtures" / "alertmanager"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((FIXTURES / name).read_bytes())
    return data


def body(**alert: Any) -> bytes:
    """A version 4 body with one alert: a valid firing alert with ``alert``'s fields replaced."""
    base: dict[str, Any] = {
        "status": "firing",
        "labels": {"alertname": "ModelDown", "model": "iris"},
        "annotations": {},
        "startsAt": "2026-11-27T12:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": "0123456789abcdef",
    }
    base.update(alert)
    return orjson.dumps({"version": "4", "status": "firing", "alerts": [base]})


def labels_of(**labels: str) -> dict[str, str]:
    return parse_alertmanager(body(labels={"alertname": "ModelDown", **labels}))[0].labels


def test_firing_fixture_maps_labels_times_and_fingerprint() -> None:
    raw = fixture("webhook_firing.json")
    first, second = parse_alertmanager((FIXTURES / "webhook_firing.json").read_bytes())
    assert first.labels == {
        "alertname": "ModelHighErrorRate",
        "instance": "fraud-detector:8080",
        "job": "model-servers",
        "model": "fraud-detector",
        "version": "v3",
        "severity": "SEV1",
        "upstream_severity": "critical",
        "source": "alertmanager",
    }
    assert first.status is AlertStatus.FIRING
    assert first.starts_at == datetime(2026, 11, 27, 12, 0, 0, 123456, tzinfo=UTC)
    assert first.ends_at is None
    assert first.fingerprint == "af3509f4c6421cd5" == fingerprint(raw["alerts"][0]["labels"])
    assert first.annotations["runbook_url"] == "https://runbooks.example.com/high-error-rate"
    assert first.annotations["generatorURL"] == raw["alerts"][0]["generatorURL"]
    assert first.dedup_key is None
    assert (second.model, second.labels["version"]) == ("recsys", "2026.11.1")
    assert second.labels["service"] == "recsys"
    assert (second.labels["severity"], second.labels["upstream_severity"]) == ("SEV3", "warning")
    assert second.starts_at == datetime(2026, 11, 27, 12, 0, 5, 500000, tzinfo=UTC)


def test_resolved_fixture_carries_its_end_time() -> None:
    [alert] = parse_alertmanager((FIXTURES / "webhook_resolved.json").read_bytes())
    assert alert.status is AlertStatus.RESOLVED
    assert alert.ends_at == datetime(2026, 11, 27, 12, 7, 30, 987654, tzinfo=UTC)
    assert alert.fingerprint == "af3509f4c6421cd5"


def test_unknown_fields_from_newer_alertmanagers_are_ignored() -> None:
    raw = fixture("webhook_firing.json")
    raw["notification_reason"] = "new_alerts"
    raw["routeLabels"] = {"team": "ml"}
    raw["alerts"][0]["somethingNew"] = [1, {"x": None}]
    assert len(parse_alertmanager(orjson.dumps(raw))) == 2


def test_an_empty_alert_list_gives_no_alerts() -> None:
    assert parse_alertmanager(b'{"version": "4", "alerts": []}') == []


@pytest.mark.parametrize(
    ("word", "severity", "upstream"),
    [
        ("critical", "SEV1", "critical"),
        ("page", "SEV1", "page"),
        ("HIGH", "SEV2", "HIGH"),
        ("warning", "SEV3", "warning"),
        ("info", "SEV4", "info"),
        ("P4", "SEV4", "P4"),
        ("SEV2", "SEV2", None),
        ("sev1", "SEV1", "sev1"),
        ("apocalyptic", "SEV3", "apocalyptic"),
        ("", "SEV3", None),
        (None, "SEV3", None),
    ],
)
def test_severity_words_map_and_foreign_ones_are_kept(
    word: str | None, severity: str, upstream: str | None
) -> None:
    labels = labels_of(severity=word) if word is not None else labels_of()
    assert labels["severity"] == severity
    assert labels.get("upstream_severity") == upstream


@pytest.mark.parametrize(
    ("given", "model", "version"),
    [
        ({"model": "iris", "service": "api", "version": "3", "model_version": "9"}, "iris", "3"),
        ({"service": "api", "model_version": "9"}, "api", "9"),
        ({"model": "", "service": "api"}, "api", None),
        ({"job": "x"}, None, None),
    ],
)
def test_model_and_version_fall_back_to_service_and_model_version(
    given: dict[str, str], model: str | None, version: str | None
) -> None:
    labels = labels_of(**given)
    assert labels.get("model") == model
    assert labels.get("version") == version
    assert {k: v for k, v in labels.items() if k in ("service", "model_version")} == {
        k: v for k, v in given.items() if k in ("service", "model_version")
    }


def test_a_source_label_from_the_sender_is_kept_as_upstream_source() -> None:
    labels = labels_of(source="prometheus-eu")
    assert (labels["source"], labels["upstream_source"]) == ("alertmanager", "prometheus-eu")
    assert "upstream_source" not in labels_of(source="alertmanager")


@pytest.mark.parametrize(
    ("starts", "expected"),
    [
        ("2026-11-27T12:00:00.123456789Z", datetime(2026, 11, 27, 12, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-27T12:00:00.9999999Z", datetime(2026, 11, 27, 12, 0, 0, 999999, tzinfo=UTC)),
        ("2026-11-27T13:30:00.5+01:30", datetime(2026, 11, 27, 12, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-27T12:00:00+00:00", datetime(2026, 11, 27, 12, 0, tzinfo=UTC)),
    ],
)
def test_times_keep_microseconds_of_nanosecond_fractions_and_come_back_in_utc(
    starts: str, expected: datetime
) -> None:
    [alert] = parse_alertmanager(body(startsAt=starts, endsAt=starts, status="resolved"))
    assert alert.starts_at == expected
    assert alert.ends_at == expected
    assert alert.starts_at.tzinfo is UTC


def test_the_zero_end_time_means_still_firing() -> None:
    [alert] = parse_alertmanager(body(endsAt="0001-01-01T00:00:00Z"))
    assert alert.ends_at is None


def rejection(payload: bytes) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_alertmanager(payload)
    return caught.value


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b'[{"version": "4"}]', "$: expected a JSON object, got an array"),
        (b'"alerts"', '$: expected a JSON object, got "alerts"'),
        (b'{"version": "4"}', "alerts: expected an array of alerts, missing"),
        (b'{"version": "4", "alerts": {}}', "alerts: expected an array of alerts, got an object"),
        (b'{"version": "4", "alerts": [7]}', "alerts[0]: expected an alert object, got 7"),
        (
            body(labels={"alertname": "X", "severity": 5}),
            "alerts[0].labels.severity: expected a string, got 5",
        ),
        (
            body(labels={"alertname": "X", "odd key": None}),
            'alerts[0].labels["odd key"]: expected a string, got null',
        ),
        (
            body(labels=["alertname"]),
            "alerts[0].labels: expected an object of strings, got an array",
        ),
        (body(labels={"model": "iris"}), "alerts[0].labels.alertname: missing"),
        (
            body(annotations={"summary": 1.5}),
            "alerts[0].annotations.summary: expected a string, got 1.5",
        ),
        (
            body(status="pending"),
            'alerts[0].status: expected "firing" or "resolved", got "pending"',
        ),
        (
            body(startsAt="yesterday"),
            'alerts[0].startsAt: expected an RFC 3339 time, got "yesterday"',
        ),
        (
            body(startsAt="2026-11-27T12:00:00"),
            "alerts[0].startsAt: expected an RFC 3339 time with a UTC offset",
        ),
        (body(startsAt="0001-01-01T00:00:00Z"), "alerts[0].startsAt: must be a real time"),
        (
            body(startsAt=1764244800),
            "alerts[0].startsAt: expected an RFC 3339 time, got 1764244800",
        ),
        (body(endsAt=None), "alerts[0].endsAt: expected an RFC 3339 time, got null"),
        (
            body(fingerprint="0123456789ABCDEF"),
            "alerts[0].fingerprint: expected 16 lowercase hex digits",
        ),
        (body(fingerprint="abc"), "alerts[0].fingerprint: expected 16 lowercase hex digits"),
        (body(generatorURL=False), "alerts[0].generatorURL: expected a string, got false"),
    ],
)
def test_malformed_bodies_are_refused_naming_the_path(payload: bytes, message: str) -> None:
    error = rejection(payload)
    assert error.code == "invalid_input"
    assert error.status == 422
    assert message in error.message
    assert error.message.startswith("invalid Alertmanager webhook: ")
    assert error.details["errors"][0]["field"] == message.split(":")[0]


def test_missing_fields_are_named_as_missing() -> None:
    raw = orjson.loads(body())
    del raw["alerts"][0]["status"], raw["alerts"][0]["startsAt"]
    error = rejection(orjson.dumps(raw))
    assert [e["field"] for e in error.details["errors"]] == [
        "alerts[0].status",
        "alerts[0].startsAt",
    ]
    assert all(e["problem"].startswith("missing") for e in error.details["errors"])


@pytest.mark.parametrize("version", ["1", "3", 4, None])
def test_other_versions_are_refused(version: object) -> None:
    raw = orjson.loads(body())
    raw["version"] = version
    error = rejection(orjson.dumps(raw))
    assert error.message.startswith('invalid Alertmanager webhook: version: expected "4"')
    if version == "1":
        assert "Grafana" in error.message


@pytest.mark.parametrize("payload", [b"{not json", b"", b'{"alerts": [}', b"\xff\xfe"])
def test_malformed_json_has_its_own_code(payload: bytes) -> None:
    error = rejection(payload)
    assert error.code == "malformed_json"
    assert error.details["errors"][0]["field"] == "$"


def test_up_to_twenty_problems_are_reported_and_the_rest_counted() -> None:
    alerts = [{"labels": {"alertname": 1}, "status": "firing"} for _ in range(8)]
    payload = orjson.dumps({"version": "4", "alerts": alerts})
    error = rejection(payload)  # three problems each: alertname, startsAt, endsAt
    assert len(error.details["errors"]) == 20
    assert error.details["omitted"] == 4
    assert "(and 23 more problems, see details.errors)" in error.message
    assert error.details["errors"][3]["field"] == "alerts[1].labels.alertname"


CAPTURED = sorted(path.name for path in FIXTURES.glob("captured_*.json"))


@pytest.mark.parametrize("name", CAPTURED)
def test_bodies_captured_from_the_real_binary_parse_with_its_fingerprints(name: str) -> None:
    raw = fixture(name)
    alerts = parse_alertmanager((FIXTURES / name).read_bytes())
    assert len(alerts) == len(raw["alerts"])
    for sent, alert in zip(raw["alerts"], alerts, strict=True):
        assert alert.fingerprint == sent["fingerprint"] == fingerprint(sent["labels"])
        assert alert.status is AlertStatus(sent["status"])
        assert (alert.ends_at is None) == (sent["endsAt"] == "0001-01-01T00:00:00Z")
    hand_written = fixture(f"webhook_{raw['status']}.json")
    assert hand_written.keys() == raw.keys()
    assert hand_written["alerts"][0].keys() == raw["alerts"][0].keys()
