"""The seed's notification and resolution messages, filled from an incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from firewatch.comms.templates import render_message
from firewatch.incidents.schemas import IncidentOut, SlaOut, TimelineEntryOut
from firewatch.severity import DEFAULT_POLICY, Severity

OPENED = datetime(2024, 1, 15, 14, 30, tzinfo=UTC)


def incident(**changes: object) -> IncidentOut:
    base = IncidentOut(
        id="INC-2024-001",
        timestamp=OPENED,
        severity=Severity.SEV2,
        title="Model Accuracy Degradation",
        status="investigating",
        model="churn",
        model_version="v1.2.0",
        assigned_to="john_doe",
        sla=SlaOut(
            response_due_at=OPENED,
            resolution_due_at=OPENED,
            response_breached=False,
            resolution_breached=False,
            breached=False,
        ),
        description="Accuracy dropped from 92% to 78%",
        source="human",
        runbook=None,
        assignee=None,
        roles={},
        signals=[{"reasons": ["accuracy 78.0% vs baseline 92.0%"]}],
        labels={},
        root_cause=None,
        resolution=None,
        acknowledged_at=None,
        mitigated_at=None,
        resolved_at=None,
        closed_at=None,
        resolution_time_minutes=None,
        timeline=[
            TimelineEntryOut(
                time=OPENED, kind="action_succeeded", event="Rolled back to v1.1.0", actor="x"
            )
        ],
    )
    return base.model_copy(update=changes)


def test_incident_notification_follows_the_seed_template() -> None:
    text = render_message("opened", incident(), policy=DEFAULT_POLICY, now=OPENED)
    assert text.startswith("🚨 INCIDENT INC-2024-001: Model Accuracy Degradation")
    for line in (
        "Severity: HIGH (SEV2)",
        "Time: 2024-01-15 14:30 UTC",
        "Status: INVESTIGATING",
        "- accuracy 78.0% vs baseline 92.0%",
        "- Estimated resolution: 2024-01-15 16:30 UTC",
        "- Rolled back to v1.1.0",
        "- Will update in 15m",
        "Questions? Contact #ml-incidents on Slack",
    ):
        assert line in text


def test_resolution_notification_follows_the_seed_template() -> None:
    done = incident(
        status="resolved",
        resolved_at=OPENED + timedelta(minutes=50),
        root_cause="Data distribution shift due to seasonal changes",
        resolution="Rolled back to previous model version (v1.1.0)",
    )
    text = render_message("resolved", done, policy=DEFAULT_POLICY, now=OPENED + timedelta(hours=1))
    assert text.startswith("✅ INCIDENT RESOLVED INC-2024-001: Model Accuracy Degradation")
    for line in (
        "Duration: 50m",
        "Start: 2024-01-15 14:30 UTC",
        "End: 2024-01-15 15:20 UTC",
        "Data distribution shift due to seasonal changes",
        "Rolled back to previous model version (v1.1.0)",
        "Post-mortem required (SEV2)",
        "Thank you for your patience!",
    ):
        assert line in text
