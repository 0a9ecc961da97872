"""PagerDuty Events API v2 bodies become PagerDutyEvents under PagerDuty's own rules: dedup
keys, required fields, length and size limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from firewatch.alerts.ingest import PagerDutyEvent, parse_pagerduty
from firewatch.alerts.schemas import AlertStatus
from firewatch.errors import InvalidInput

FIXTURES = Path(__file__).parents[3] / "fixtures" / "pagerduty"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((FIXTURES / name).read_bytes())
    return data


def parse(raw: dict[str, Any]) -> PagerDutyEvent:
    return parse_pagerduty(orjson.dumps(raw), received_at=NOW)


def trigger(**payload: Any) -> dict[str, Any]:
    base = {"summary": "fraud-detector down", "source": "host-1", "severity": "critical"}
    return {"routing_key": "R" * 32, "event_action": "trigger", "payload": {**base, **payload}}


def rejection(raw: dict[str, Any] | bytes) -> InvalidInput:
    payload = raw if isinstance(raw, bytes) else orjson.dumps(raw)
    with pytest.raises(InvalidInput) as caught:
        parse_pagerduty(payload, received_at=NOW)
    assert caught.value.message.startswith("invalid PagerDuty event: ")
    return caught.value


def test_published_trigger_example_parses_with_every_field() -> None:
    event = parse_pagerduty((FIXTURES / "trigger.json").read_bytes(), received_at=NOW)
    assert (event.routing_key, event.action, event.dedup_key) == (
        "samplekeyhere",
        "trigger",
        "samplekeyhere",
    )
    alert = event.alert
    source = "monitoringtool:cloudvendor:central-region-dc-01:852559987:cluster/api-stats-prod-003"
    assert alert.labels == {
        "alertname": "deploy",
        "source": "pagerduty",
        "model": "postgres",
        "group": "prod-datapipe",
        "class": "deploy",
        "component": "postgres",
        "upstream_source": source,
        "severity": "SEV4",
        "upstream_severity": "info",
    }
    assert (alert.status, alert.ends_at, alert.dedup_key) == (
        AlertStatus.FIRING,
        None,
        "samplekeyhere",
    )
    assert alert.starts_at == datetime(2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC)
    notes = alert.annotations
    assert notes["summary"] == "Example alert on host1.example.com"
    assert (notes["ping time"], notes["load avg"]) == ("1500ms", "0.75")
    assert orjson.loads(notes["links"]) == [{"href": "https://example.com/", "text": "Link text"}]
    assert orjson.loads(notes["images"])[0]["alt"] == "Example text"
    assert (notes["client"], notes["client_url"]) == (
        "Sample Monitoring Service",
        "https://monitoring.example.com",
    )
    assert "samplekeyhere" not in alert.labels.values()  # the routing key is never copied


@pytest.mark.parametrize(
    ("name", "status"),
    [("acknowledge.json", AlertStatus.ACKNOWLEDGED), ("resolve.json", AlertStatus.RESOLVED)],
)
def test_published_acknowledge_and_resolve_examples_parse(name: str, status: AlertStatus) -> None:
    event = parse_pagerduty((FIXTURES / name).read_bytes(), received_at=NOW)
    assert (event.routing_key, event.action) == ("routingkeyhere", name.removesuffix(".json"))
    assert event.dedup_key == event.alert.dedup_key == "dedupkeyhere"
    assert event.alert.status is status
    assert event.alert.labels == {
        "alertname": "PagerDutyEvent",
        "source": "pagerduty",
        "severity": "SEV3",
    }
    assert event.alert.starts_at == NOW
    assert event.alert.ends_at == (NOW if status is AlertStatus.RESOLVED else None)


def test_a_resolve_with_a_payload_uses_what_it_has() -> None:
    raw = fixture("resolve.json")
    raw["payload"] = {"severity": "critical", "custom_details": {"model": "iris"}}
    alert = parse(raw).alert
    assert (alert.model, alert.labels["severity"]) == ("iris", "SEV1")


def test_a_trigger_without_a_dedup_key_gets_a_fresh_one() -> None:
    first, second = parse(trigger()), parse(trigger())
    assert len(first.dedup_key) == 32
    int(first.dedup_key, 16)
    assert first.dedup_key != second.dedup_key
    assert first.alert.dedup_key == first.dedup_key
    raw = {**trigger(), "dedup_key": ""}
    made = parse_pagerduty(orjson.dumps(raw), received_at=NOW, new_dedup_key=lambda: "k-1")
    assert made.dedup_key == "k-1"


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
@pytest.mark.parametrize("key", [None, ""])
def test_acknowledge_and_resolve_need_a_dedup_key(action: str, key: str | None) -> None:
    raw: dict[str, Any] = {"routing_key": "r", "event_action": action}
    if key is not None:
        raw["dedup_key"] = key
    error = rejection(raw)
    assert f"dedup_key: missing; required to {action} an alert" in error.message


def test_dedup_keys_may_be_255_characters_but_no_longer() -> None:
    assert parse({**trigger(), "dedup_key": "k" * 255}).dedup_key == "k" * 255
    error = rejection({**trigger(), "dedup_key": "k" * 256})
    assert "dedup_key: is 256 characters long; at most 255 allowed" in error.message
    assert "dedup_key: expected a string, got 7" in rejection({**trigger(), "dedup_key": 7}).message


@pytest.mark.parametrize(
    ("details", "payload", "model", "version"),
    [
        ({"model": "iris", "version": "3"}, {"component": "db"}, "iris", "3"),
        ({"model": 5, "model_version": "9"}, {"component": "db"}, "db", "9"),
        ({}, {}, "host-1", None),
        ("free text", {}, "host-1", None),
    ],
)
def test_model_and_version_come_from_custom_details_then_component_then_source(
    details: object, payload: dict[str, str], model: str, version: str | None
) -> None:
    alert = parse(trigger(custom_details=details, **payload)).alert
    assert (alert.model, alert.labels.get("version")) == (model, version)
    if isinstance(details, str):
        assert alert.annotations["custom_details"] == "free text"


@pytest.mark.parametrize(
    ("word", "severity"),
    [("critical", "SEV1"), ("error", "SEV2"), ("warning", "SEV3"), ("info", "SEV4")],
)
def test_pagerduty_severities_map_and_the_word_is_kept(word: str, severity: str) -> None:
    labels = parse(trigger(severity=word)).alert.labels
    assert (labels["severity"], labels["upstream_severity"]) == (severity, word)


def test_timestamps_without_an_offset_are_utc_and_received_at_is_the_default() -> None:
    alert = parse(trigger(timestamp="2026-11-27T10:00:00.5")).alert
    assert alert.starts_at == datetime(2026, 11, 27, 10, 0, 0, 500000, tzinfo=UTC)
    paris = timezone(timedelta(hours=1))
    event = parse_pagerduty(orjson.dumps(trigger()), received_at=NOW.astimezone(paris))
    assert event.alert.starts_at == NOW
    assert event.alert.starts_at.tzinfo is UTC
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_pagerduty(orjson.dumps(trigger()), received_at=datetime(2026, 1, 1))


def test_summaries_may_be_1024_characters_but_no_longer() -> None:
    assert parse(trigger(summary="s" * 1024)).alert.annotations["summary"] == "s" * 1024
    error = rejection(trigger(summary="s" * 1025))
    assert "payload.summary: is 1025 characters long; at most 1024 allowed" in error.message


def test_bodies_over_512_kb_are_refused_before_parsing() -> None:
    raw = trigger(custom_details={"blob": "x" * (512 * 1024)})
    error = rejection(raw)
    assert error.code == "payload_too_large"
    assert "the limit is 524288 (512 KB)" in error.message
    assert rejection(b"x" * (512 * 1024 + 1)).code == "payload_too_large"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"routing_key": None},
            "routing_key: expected a non-empty string (the integration key), got null",
        ),
        (
            {"routing_key": ""},
            'routing_key: expected a non-empty string (the integration key), got ""',
        ),
        (
            {"event_action": "escalate"},
            'event_action: expected one of trigger, acknowledge, resolve, got "escalate"',
        ),
        ({"payload": None}, "payload: missing; a trigger needs a payload"),
        ({"payload": [1]}, "payload: expected an object, got an array"),
        (
            {"payload": {"source": "h", "severity": "info"}},
            "payload.summary: missing; required for a trigger",
        ),
        (
            {"payload": {"summary": " ", "source": "h", "severity": "info"}},
            "payload.summary: must not be empty",
        ),
        (
            {"payload": {"summary": "s", "severity": "info"}},
            "payload.source: missing; required for a trigger",
        ),
        (
            {"payload": {"summary": "s", "source": "h"}},
            "payload.severity: missing; required for a trigger",
        ),
        (
            {"links": [{"text": "no href"}]},
            "links[0].href: missing; expected a non-empty string (a URL)",
        ),
        ({"links": "https://x"}, 'links: expected an array of objects, got "https://x"'),
        ({"images": [{"src": "https://x", "alt": 3}]}, "images[0].alt: expected a string, got 3"),
        ({"client_url": {"href": "x"}}, "client_url: expected a string, got an object"),
    ],
)
def test_malformed_events_are_refused_naming_the_path(change: dict[str, Any], message: str) -> None:
    raw = {**trigger(), **change}
    if "routing_key" in change and change["routing_key"] is None:
        del raw["routing_key"]
        message = message.replace("expected", "missing; expected").replace(", got null", "")
    assert message in rejection(raw).message


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            {"severity": "CRITICAL"},
            'payload.severity: expected one of critical, error, warning, info, got "CRITICAL"',
        ),
        (
            {"severity": "high"},
            'payload.severity: expected one of critical, error, warning, info, got "high"',
        ),
        (
            {"timestamp": "last tuesday"},
            'payload.timestamp: expected an ISO 8601 time, got "last tuesday"',
        ),
        ({"class": 1}, "payload.class: expected a string, got 1"),
    ],
)
def test_malformed_payload_fields_are_refused(payload: dict[str, Any], message: str) -> None:
    assert message in rejection(trigger(**payload)).message


def test_every_problem_is_listed_in_details() -> None:
    error = rejection(
        {"event_action": "trigger", "dedup_key": "k" * 300, "payload": {"severity": "x"}}
    )
    assert [e["field"] for e in error.details["errors"]] == [
        "routing_key",
        "dedup_key",
        "payload.summary",
        "payload.source",
        "payload.severity",
    ]
