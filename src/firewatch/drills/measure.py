"""Judging a drill from what it observed: times from the fault, the SLA verdicts, the targets,
the runbook and timeline checks, and the reasons a drill failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from firewatch.drills.scenarios import Reference, Scenario, in_order
from firewatch.drills.schemas import MEASURES, DrillOutcome

TIMELINE_KEPT = 200  # entries stored with a drill run
EVENT_KEPT = 300  # characters of each entry's text


@dataclass
class Observation:
    """What one drill saw and did."""

    scenario: Scenario
    fault_at: datetime | None = None
    incident: dict[str, Any] | None = None  # the final record, as the API returned it
    responder: list[dict[str, Any]] = field(default_factory=list)
    stopped_injecting_at: datetime | None = None
    timed_out: bool = False
    label_delay_s: float = 0.0
    time_limit: timedelta | None = None
    """The limit the drill ran under (``--timeout``), when not the scenario's own."""
    problems: list[str] = field(default_factory=list)
    """What went wrong outside the incident: the fleet not ready, an approval refused, …"""

    def did(self, action: str, at: datetime, **details: Any) -> None:
        self.responder.append({"at": at.isoformat(), "action": action, **details})


@dataclass(frozen=True)
class Verdict:
    outcome: DrillOutcome
    times: dict[str, float | None]
    failures: list[str]
    details: dict[str, Any]
    incident: str | None
    severity: str | None
    runbook: str | None

    def finish_body(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "incident": self.incident,
            "severity": self.severity,
            "runbook": self.runbook,
            "times": self.times,
            "failures": self.failures,
            "details": self.details,
        }


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 2)


def kinds_of(incident: dict[str, Any]) -> list[str]:
    return [str(entry["kind"]) for entry in incident.get("timeline", [])]


def runbooks_started(incident: dict[str, Any]) -> list[str]:
    """The runbooks that ran on the incident, from its ``runbook_started`` entries."""
    names = [
        str(entry.get("details", {}).get("runbook"))
        for entry in incident.get("timeline", [])
        if entry["kind"] == "runbook_started"
    ]
    return names or ([incident["runbook"]] if incident.get("runbook") else [])


def succeeded_step(incident: dict[str, Any], fragment: str) -> dict[str, Any] | None:
    """The first successful action whose step (or implementation) name holds ``fragment``."""
    for entry in incident.get("timeline", []):
        details = entry.get("details") or {}
        names = f"{details.get('step', '')} {details.get('uses', '')}"
        if entry["kind"] == "action_succeeded" and fragment in names:
            return dict(entry)
    return None


def first_time(incident: dict[str, Any], kind: str) -> datetime | None:
    for entry in incident.get("timeline", []):
        if entry["kind"] == kind:
            return parse_time(entry["time"])
    return None


def measure(observation: Observation) -> dict[str, float | None]:
    """Seconds from the fault to: detect, notify, acknowledge, mitigate, resolve."""
    incident, fault = observation.incident, observation.fault_at
    if incident is None:
        return dict.fromkeys(MEASURES)
    return {
        "detect": _seconds(fault, parse_time(incident["timestamp"])),
        "notify": _seconds(fault, first_time(incident, "notified")),
        "acknowledge": _seconds(fault, parse_time(incident.get("acknowledged_at"))),
        "mitigate": _seconds(fault, parse_time(incident.get("mitigated_at"))),
        "resolve": _seconds(fault, parse_time(incident.get("resolved_at"))),
    }


def sla_of(incident: dict[str, Any]) -> dict[str, Any]:
    """The severity's response and resolution limits against what happened (from opening)."""
    opened = parse_time(incident["timestamp"])
    sla = incident["sla"]
    acked = parse_time(incident.get("acknowledged_at"))
    responded = [
        t
        for t in (acked, *(parse_time(incident.get(k)) for k in ("mitigated_at", "resolved_at")))
        if t is not None
    ]
    return {
        "severity": incident["severity"],
        "response_limit_s": _seconds(opened, parse_time(sla["response_due_at"])),
        "resolution_limit_s": _seconds(opened, parse_time(sla["resolution_due_at"])),
        "acknowledged_s": _seconds(opened, acked),
        "responded_s": _seconds(opened, min(responded)) if responded else None,
        "resolved_s": _seconds(opened, parse_time(incident.get("resolved_at"))),
        "response_met": not sla["response_breached"],
        "resolution_met": not sla["resolution_breached"],
    }


def targets_of(observation: Observation, times: dict[str, float | None]) -> list[dict[str, Any]]:
    results = []
    for target in observation.scenario.targets:
        took = times.get(target.measure)
        if took is not None and target.reference is Reference.LABELS:
            took = round(took - observation.label_delay_s, 2)
        results.append(
            {
                "text": target.text,
                "measure": target.measure,
                "reference": target.reference.value,
                "limit_s": target.limit_s,
                "measured_s": took,
                "met": took is not None and took < target.limit_s,
            }
        )
    return results


def _timeline(incident: dict[str, Any], fault: datetime | None) -> list[dict[str, Any]]:
    return [
        {
            "t": _seconds(fault, parse_time(entry["time"])),
            "kind": entry["kind"],
            "event": str(entry["event"])[:EVENT_KEPT],
            "actor": entry["actor"],
        }
        for entry in incident.get("timeline", [])[:TIMELINE_KEPT]
    ]


def incident_failures(scenario: Scenario, incident: dict[str, Any]) -> list[str]:
    """Wrong runbook, missing or out-of-order kinds, wrong end state, not marked as a drill."""
    failures = []
    ran = runbooks_started(incident)
    if scenario.runbook not in ran:
        found = ", ".join(ran) or "none"
        failures.append(f"wrong runbook: expected {scenario.runbook}, ran {found}")
    kinds = kinds_of(incident)
    if problems := in_order(scenario.sequence, kinds):
        failures.append("timeline: " + "; ".join(problems))
    if missing := [k for k in scenario.also if k not in kinds]:
        failures.append("timeline lacks " + ", ".join(missing))
    if incident["status"] != scenario.end_state:
        failures.append(f"ended {incident['status']}, expected {scenario.end_state}")
    if scenario.stop_injecting_on and succeeded_step(incident, scenario.stop_injecting_on) is None:
        failures.append(f"no successful {scenario.stop_injecting_on} action on the timeline")
    if (incident.get("labels") or {}).get("drill") != scenario.name:
        failures.append("the incident is not marked as a drill (label drill missing)")
    return failures


def judge(observation: Observation, *, aborted: bool = False) -> Verdict:
    """The outcome, times and reasons of a finished (or interrupted) drill."""
    scenario, incident = observation.scenario, observation.incident
    limit = (observation.time_limit or scenario.time_limit).total_seconds()
    failures = list(observation.problems)
    times = measure(observation)
    details: dict[str, Any] = {
        "title": scenario.title,
        "fault": scenario.fault.description,
        "fault_at": observation.fault_at.isoformat() if observation.fault_at else None,
        "alert": scenario.alert,
        "expected_runbook": scenario.runbook,
        "end_state": scenario.expects,
        "sequence": list(scenario.sequence),
        "responder": observation.responder,
        "label_delay_s": observation.label_delay_s,
        "stopped_injecting_s": _seconds(observation.fault_at, observation.stopped_injecting_at),
    }
    if incident is None:
        if observation.fault_at is not None:
            failures.append(f"no incident opened within {limit:g}s of the fault")
    else:
        failures += incident_failures(scenario, incident)
        if observation.timed_out:
            failures.append(f"timed out: not {scenario.end_state} within {limit:g}s of the fault")
        sla = sla_of(incident)
        if not sla["response_met"]:
            failures.append(f"response SLA missed ({sla['response_limit_s']:g}s)")
        if incident["status"] == "resolved" and not sla["resolution_met"]:
            failures.append(f"resolution SLA missed ({sla['resolution_limit_s']:g}s)")
        details |= {
            "status": incident["status"],
            "kinds": kinds_of(incident),
            "runbooks": runbooks_started(incident),
            "sla": sla,
            "timeline": _timeline(incident, observation.fault_at),
        }
    details["targets"] = targets_of(observation, times)
    failures += [
        f"target missed: {t['text']} (took {_shown(t['measured_s'])})"
        for t in details["targets"]
        if not t["met"]
    ]
    if aborted:
        outcome = DrillOutcome.ABORTED
    else:
        outcome = DrillOutcome.FAIL if failures else DrillOutcome.PASS
    return Verdict(
        outcome=outcome,
        times=times,
        failures=failures,
        details=details,
        incident=incident["id"] if incident else None,
        severity=incident["severity"] if incident else None,
        runbook=", ".join(runbooks_started(incident)) or None if incident else None,
    )


def _shown(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:g}s"
