"""Runbook step implementations, registered by the name a runbook's ``uses`` gives."""

from __future__ import annotations

from firewatch.runbooks.steps.alerts import alerts_clear
from firewatch.runbooks.steps.base import StepContext, StepImpl, StepResult
from firewatch.runbooks.steps.checks import http_check, metric_query, run_command
from firewatch.runbooks.steps.deploys import recent_deploy, rollback_to_last_good
from firewatch.runbooks.steps.evidence import collect_logs, drift_status, error_samples
from firewatch.runbooks.steps.health import health_recovers, http_health
from firewatch.runbooks.steps.hooks import hook
from firewatch.runbooks.steps.mitigation import (
    failover_region,
    reroute_traffic,
    switch_to_fallback,
)
from firewatch.runbooks.steps.signals import signal_recovers
from firewatch.runbooks.steps.validation import validate_test_set

STEPS: dict[str, StepImpl] = {
    "http_health": http_health,
    "health_recovers": health_recovers,
    "recent_deploy": recent_deploy,
    "collect_logs": collect_logs,
    "drift_status": drift_status,
    "error_samples": error_samples,
    "rollback_to_last_good": rollback_to_last_good,
    "switch_to_fallback": switch_to_fallback,
    "reroute_traffic": reroute_traffic,
    "failover_region": failover_region,
    "http_check": http_check,
    "metric_query": metric_query,
    "run_command": run_command,
    "validate_test_set": validate_test_set,
    "signal_recovers": signal_recovers,
    "hook": hook,
    "alerts_clear": alerts_clear,
}

ACTION_KINDS: dict[str, str] = {
    "rollback_to_last_good": "rollback",
    "switch_to_fallback": "fallback",
    "reroute_traffic": "reroute",
    "failover_region": "failover",
    # "hook" is a placeholder: the engine reads the step's params["action"] (restart, scale,
    # config_change, pipeline_restart, data_rollback, retrain; default custom) as its kind.
    "hook": "hook",
}
"""The policy kind of each action implementation (``runbooks.policy`` allows kinds per severity).
The generic ``hook`` action takes its kind from its ``action`` parameter."""

__all__ = ["ACTION_KINDS", "STEPS", "StepContext", "StepImpl", "StepResult"]
