"""Runbook step implementations, registered by the name a runbook's ``uses`` gives."""

from __future__ import annotations

from firewatch.runbooks.steps.base import StepContext, StepImpl, StepResult
from firewatch.runbooks.steps.deploys import recent_deploy, rollback_to_last_good
from firewatch.runbooks.steps.health import health_recovers, http_health

STEPS: dict[str, StepImpl] = {
    "http_health": http_health,
    "health_recovers": health_recovers,
    "recent_deploy": recent_deploy,
    "rollback_to_last_good": rollback_to_last_good,
}

ACTION_KINDS: dict[str, str] = {
    "rollback_to_last_good": "rollback",
}
"""The policy kind of each action implementation (``runbooks.policy`` allows kinds per severity).
The generic ``hook`` action takes its kind from its ``action`` parameter."""

__all__ = ["ACTION_KINDS", "STEPS", "StepContext", "StepImpl", "StepResult"]
