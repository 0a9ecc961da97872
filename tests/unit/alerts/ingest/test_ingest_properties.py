"""Properties of the ingest adapters: valid Alertmanager bodies round-trip their labels, and
nothing a sender can send makes a parser raise anything but InvalidInput."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import hypothesis.strategies as st
import orjson
import pytest
from hypothesis import given, settings

from firewatch.alerts.ingest import parse_alertmanager, parse_grafana, parse_pagerduty
from firewatch.alerts.schemas import AlertStatus
from firewatch.errors import InvalidInput
from firewatch.severity import foreign_severity

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
MAPPED = {"source", "severity", "model", "version", "upstream_severity", "upstream_source"}

label_names = st.text(alphabet="abcdefgmnoprsuvz_XYZ019", min_size=1, max_size=12).filter(
    lambda name: name not in MAPPED
)
label_values = st.text(max_size=20)
severities = st.sampled_from(["critical", "warning", "info", "SEV1", "P2", "weird", ""])
moments = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1)).map(
    lambda moment: moment.replace(tzinfo=UTC)
)


def rfc3339(moment: datetime, nanos: str) -> str:
    """Go's layout: a fraction of up to nine digits (here the microseconds plus ``nanos``)."""
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}{nanos}Z"


@st.composite
def alertmanager_alerts(draw: st.DrawFn) -> dict[str, Any]:
    labels = draw(st.dictionaries(label_names, label_values, max_size=6))
    labels["alertname"] = draw(st.text(min_size=1, max_size=20))
    for name in ("model", "service", "version", "model_version", "severity"):
        if draw(st.booleans()):
            labels[name] = draw(severities if name == "severity" else label_values)
    resolved = draw(st.booleans())
    starts = draw(moments)
    return {
        "status": "resolved" if resolved else "firing",
        "labels": labels,
        "annotations": draw(
            st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3)
        ),
        "startsAt": rfc3339(starts, draw(st.text(alphabet="0123456789", max_size=3))),
        "endsAt": rfc3339(draw(moments), "123") if resolved else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": draw(st.text(alphabet="0123456789abcdef", min_size=16, max_size=16)),
    }


@settings(max_examples=100, deadline=None)
@given(st.lists(alertmanager_alerts(), max_size=8))
def test_valid_alertmanager_bodies_round_trip_their_labels(
    raw_alerts: list[dict[str, Any]],
) -> None:
    body = orjson.dumps({"version": "4", "status": "firing", "alerts": raw_alerts})
    alerts = parse_alertmanager(body)
    assert len(alerts) == len(raw_alerts)
    for raw, alert in zip(raw_alerts, alerts, strict=True):
        sent: dict[str, str] = raw["labels"]
        assert {k: v for k, v in alert.labels.items() if k not in MAPPED} == {
            k: v for k, v in sent.items() if k not in MAPPED
        }
        assert alert.labels["source"] == "alertmanager"
        # An empty model (or version) label passes through unless the fallback label has a value.
        assert alert.labels.get("model") == (
            sent.get("model") or sent.get("service") or sent.get("model")
        )
        assert alert.labels.get("version") == (
            sent.get("version") or sent.get("model_version") or sent.get("version")
        )
        word = sent.get("severity")
        assert alert.labels["severity"] == (foreign_severity(word) or "SEV3")
        assert alert.labels.get("upstream_severity") == (
            word if word and word[:3] != "SEV" else None
        )
        assert alert.fingerprint == raw["fingerprint"]
        assert alert.status is AlertStatus(raw["status"])
        assert alert.starts_at.isoformat(timespec="microseconds")[:26] == raw["startsAt"][:26]
        assert (alert.ends_at is None) == (raw["status"] == "firing")
        assert alert.annotations["generatorURL"] == "http://prometheus/graph"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
ALERT_FIELDS = ["status", "labels", "annotations", "startsAt", "endsAt", "fingerprint",
                "generatorURL", "dashboardURL", "values"]  # fmt: skip
PD_FIELDS = ["routing_key", "event_action", "dedup_key", "payload", "links", "images", "client"]
PAYLOAD_FIELDS = [
    "summary",
    "source",
    "severity",
    "timestamp",
    "component",
    "class",
    "custom_details",
]
near_strings = st.sampled_from(
    ["firing", "resolved", "trigger", "resolve", "acknowledge", "critical", "4", "1", "", "x",
     "2026-11-27T12:00:00Z", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00",
     "9999-12-31T23:59:59-01:00", "0123456789abcdef"]
)  # fmt: skip
near_values = json_values | near_strings | st.dictionaries(st.text(max_size=5), near_strings)


def shaped(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with some of the sender's field names, holding arbitrary or plausible values."""
    return st.dictionaries(st.sampled_from(fields), near_values, max_size=len(fields))


webhook_like = st.fixed_dictionaries(
    {
        "version": st.sampled_from(["4", "1", 4, None]),
        "alerts": st.lists(shaped(ALERT_FIELDS) | json_values, max_size=3),
    },
    optional={"title": json_values},
)
pagerduty_like = st.builds(
    lambda top, payload: {**top, "payload": payload},
    shaped(PD_FIELDS),
    shaped(PAYLOAD_FIELDS) | json_values,
)


def only_invalid_input(body: bytes) -> None:
    for parse in (parse_alertmanager, parse_grafana, lambda b: parse_pagerduty(b, received_at=NOW)):
        try:
            parse(body)
        except InvalidInput as error:
            assert error.details["errors"], error.message
            assert all(set(e) == {"field", "problem"} for e in error.details["errors"])


@settings(max_examples=300, deadline=None)
@given(json_values | webhook_like | pagerduty_like)
def test_parsers_raise_only_invalid_input_on_any_json(value: Any) -> None:
    only_invalid_input(orjson.dumps(value))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=64))
def test_parsers_raise_only_invalid_input_on_any_bytes(body: bytes) -> None:
    only_invalid_input(body)


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_times_that_overflow_in_utc_are_refused(text: str) -> None:
    raw = {"version": "4", "alerts": [{"status": "firing", "labels": {"alertname": "A"},
           "startsAt": text, "endsAt": text}]}  # fmt: skip
    with pytest.raises(InvalidInput, match="time out of range"):
        parse_alertmanager(orjson.dumps(raw))
