"""The drill scenarios: the fault each injects, the runbook and end state it expects, the timeline
kinds that must appear in order, what the drill does as the on-call person, and its targets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from firewatch.errors import NotFound

ALL = "all"
LABEL_DELAY_S = 3.0
"""The demo traffic sends each prediction's true label this long after it."""


class FaultKind(StrEnum):
    DEPLOY = "deploy"  # deploy the registry version whose metadata.broken names the breakage
    INJECT = "inject"  # POST the model service's /admin/faults


class Reference(StrEnum):
    """What a target's time is measured from."""

    FAULT = "fault"  # the fault was injected
    LABELS = "labels"  # the first true label of the faulty version's predictions arrived


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    description: str
    broken: str | None = None
    faults: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """A response-time goal, e.g. model down detected within 5 s of the fault."""

    text: str
    measure: str  # detect | notify | acknowledge | mitigate | resolve
    limit_s: float
    reference: Reference = Reference.FAULT


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    fault: Fault
    alert: str
    runbook: str
    sequence: tuple[str, ...]
    """Timeline kinds that must appear in this order (others may come between)."""
    also: tuple[str, ...] = ("notified", "acknowledged")
    """Timeline kinds that must appear, in any order (they race with the runbook)."""
    end_state: str = "resolved"
    time_limit: timedelta = timedelta(minutes=3)
    stop_injecting_on: str | None = None
    """Stop the injected fault once a successful action of a step whose name holds this is on
    the timeline (the drift drill stops drifting once retraining is triggered)."""
    targets: tuple[Target, ...] = ()
    responder: str = "acknowledges the page and approves any proposed action"

    @property
    def expects(self) -> str:
        """The end state in words."""
        if self.stop_injecting_on:
            return (
                f"{self.end_state} after the drill stops injecting, with the "
                f"{self.stop_injecting_on} action recorded"
            )
        return self.end_state


_ROLLED_BACK = ("action_started", "action_succeeded", "mitigated", "resolved")

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            name="model-down",
            title="Model down: a build that cannot load",
            fault=Fault(FaultKind.DEPLOY, "deploy the version that crashes", broken="crash"),
            alert="ModelUnavailable",
            runbook="model-unavailable",
            sequence=("detected", "runbook_started", "verified", *_ROLLED_BACK),
            time_limit=timedelta(minutes=2),
            targets=(
                Target("model down detected < 5 s", "detect", 5.0),
                Target("rolled back and verified < 30 s", "mitigate", 30.0),
            ),
        ),
        Scenario(
            name="error-spike",
            title="Error spike: a version that fails 30% of requests",
            fault=Fault(FaultKind.DEPLOY, "deploy the version that fails requests", "errors"),
            alert="HighErrorRate",
            runbook="high-error-rate",
            sequence=("detected", "runbook_started", *_ROLLED_BACK),
            time_limit=timedelta(minutes=3),
        ),
        Scenario(
            name="latency",
            title="Latency: a version that answers in 1.5 s",
            fault=Fault(FaultKind.DEPLOY, "deploy the slow version", broken="slow"),
            alert="SlowResponses",
            runbook="slow-responses",
            sequence=(
                "detected",
                "runbook_started",
                "action_proposed",
                "action_approved",
                *_ROLLED_BACK,
            ),
            time_limit=timedelta(minutes=5),
            responder="acknowledges the ticket and approves the proposed rollback (SEV3 actions "
            "wait for a person)",
        ),
        Scenario(
            name="bad-version",
            title="Bad model version: accuracy drops, labels streaming in",
            fault=Fault(FaultKind.DEPLOY, "deploy the inaccurate version", broken="inaccurate"),
            alert="AccuracyLow",
            runbook="accuracy-degradation",
            sequence=("detected", "runbook_started", "check", *_ROLLED_BACK),
            time_limit=timedelta(minutes=4),
            targets=(
                Target(
                    "bad version mitigated < 60 s after its labels arrive",
                    "mitigate",
                    60.0,
                    Reference.LABELS,
                ),
            ),
        ),
        Scenario(
            name="input-drift",
            title="Input drift: the size features arrive 3x larger (a unit change upstream)",
            fault=Fault(FaultKind.INJECT, "inject input_shift 3.0", faults={"input_shift": 3.0}),
            alert="DataDrift",
            runbook="data-drift",
            sequence=(
                "detected",
                "runbook_started",
                "action_proposed",
                "action_approved",
                "action_started",
                "action_succeeded",
                "resolved",
            ),
            time_limit=timedelta(minutes=15),
            stop_injecting_on="retrain",
            responder="acknowledges the ticket, approves the proposed retraining, then stops "
            "the drift (the retrained model would no longer see it)",
        ),
    )
}


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise NotFound(
            f"no drill scenario {name!r} (known: {', '.join(SCENARIOS)}, or {ALL})",
            code="unknown_scenario",
        ) from None


def select(name: str) -> list[Scenario]:
    """One scenario by name, or every scenario for ``all``."""
    return list(SCENARIOS.values()) if name == ALL else [get_scenario(name)]


def in_order(expected: tuple[str, ...], kinds: list[str]) -> list[str]:
    """What is wrong with ``kinds`` as a timeline holding ``expected`` in order (others may come
    between): each problem as text; empty when every kind is there, in order."""
    problems: list[str] = []
    position, previous = 0, None
    for kind in expected:
        if kind not in kinds:
            problems.append(f"{kind} missing")
            continue
        try:
            position = kinds.index(kind, position) + 1
        except ValueError:
            problems.append(f"{kind} out of order (not after {previous})")
            continue
        previous = kind
    return problems
