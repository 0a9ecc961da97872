"""Routing: the seed's notify_incident by severity, pages left to escalation, overrides by the
incident's labels (model, team)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from firewatch.config import FirewatchConfig, Intent, NotifyConfig
from firewatch.notify.routing import deliveries_for
from firewatch.severity import Severity
from firewatch.store.events import Event

CONFIG = NotifyConfig.model_validate(
    {
        "channels_for": {"page": ["pd"], "chat": ["slack"], "email": ["mail"], "ticket": ["jira"]},
        "overrides": [
            {
                "match": {"team": "fraud"},
                "routes": {"SEV1": [{"intent": "chat", "target": "#fraud-oncall"}]},
                "channels_for": {"chat": ["fraud-slack"]},
            },
            {"match": {"model": "rank-*"}, "channels_for": {"ticket": ["search-jira"]}},
        ],
    }
)


def event(kind: str, severity: str = "SEV1", **payload: Any) -> Event:
    body = {"severity": severity, "text": "x", "details": {}, "model": "iris", "labels": {}}
    return Event(1, kind, 1, 7, {**body, **payload}, datetime(2026, 11, 27, tzinfo=UTC))


def test_the_seed_policy_without_pages_which_escalation_sends() -> None:
    sent = deliveries_for(event("incident.opened"), CONFIG, frozenset({Severity.SEV1}))
    assert [(d.intent, d.target, d.channel) for d in sent] == [
        (Intent.CHAT, "#critical-incidents", "slack"),
        (Intent.EMAIL, "ml-team@company.com", "mail"),
    ]
    acked = deliveries_for(event("incident.acknowledged"), CONFIG, frozenset({Severity.SEV1}))
    assert [(d.message, d.channel) for d in acked] == [("acknowledged", "pd")]
    resolved = deliveries_for(event("incident.resolved"), CONFIG, frozenset({Severity.SEV1}))
    assert ("resolved", "pd") in [(d.message, d.channel) for d in resolved]
    assert deliveries_for(event("incident.acknowledged", "SEV3"), CONFIG, frozenset()) == []


def test_overrides_match_labels_and_model_patterns_first_match_wins() -> None:
    fraud = deliveries_for(event("incident.opened", labels={"team": "fraud"}), CONFIG)
    assert [(d.target, d.channel) for d in fraud] == [("#fraud-oncall", "fraud-slack")]
    ranker = deliveries_for(event("incident.opened", "SEV3", model="rank-v2"), CONFIG)
    assert [(d.target, d.channel) for d in ranker] == [("ML", "search-jira")]
    other = deliveries_for(event("incident.opened", "SEV3", model="iris"), CONFIG)
    assert [(d.target, d.channel) for d in other] == [("ML", "jira")]


def test_status_updates_go_to_the_routes_with_the_text() -> None:
    sent = deliveries_for(event("incident.status_update", "SEV2", text="Rolled back"), CONFIG)
    assert {d.headline for d in sent} == {"Status update: Rolled back"}
    assert {d.intent for d in sent} == {Intent.CHAT, Intent.EMAIL}


def test_an_override_naming_an_unknown_channel_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match=r"notify.overrides.0.channels_for.chat names"):
        FirewatchConfig.model_validate(
            {
                "channels": [{"type": "console", "name": "console"}],
                "notify": {
                    "overrides": [{"match": {"team": "x"}, "channels_for": {"chat": ["nope"]}}]
                },
            }
        )
