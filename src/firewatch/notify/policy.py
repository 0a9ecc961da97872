"""Escalation policies (the config's ``escalation:``): who is paged, when, how often, and until
what — the only thing in Firewatch that pages.

Each level has a delay from when the incident opened (or its severity rose), targets, optional
repeats, and a condition that keeps it going:

* ``until: acknowledged`` — PagerDuty's rule: an acknowledgement stops it;
* ``until: resolved`` — the seed's "still broken after 10 minutes": it fires even when someone
  has acknowledged, and only resolution stops it.

Resolution stops every level. The default policies:

======== ==================================================================================
SEV1     the seed's: page the on-call engineer at once, every 5 minutes until acknowledged;
         still broken after 10 minutes → page the manager; after 20 minutes → the director
SEV2     nobody acknowledged the chat / email within 30 minutes → page the on-call engineer
SEV3/4   tickets; no escalation
======== ==================================================================================

A target is a schedule (whoever is on call when the level fires), a person (a handle from
``people:``), or a plain name (``on-call``, ``manager``) handed to the page channels as is — what
the defaults use when no schedule or people are configured.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from firewatch.duration import Duration
from firewatch.severity import Severity


class EscalationTarget(BaseModel):
    """Exactly one of ``schedule``, ``person`` or ``name``."""

    model_config = ConfigDict(extra="forbid")

    schedule: str | None = Field(None, description="An on-call schedule: whoever is on call.")
    person: str | None = Field(None, description="A person's handle (from people:).")
    name: str | None = Field(None, description="A plain name handed to the page channels.")

    @model_validator(mode="after")
    def _one(self) -> EscalationTarget:
        given = [v for v in (self.schedule, self.person, self.name) if v]
        if len(given) != 1:
            raise ValueError("a target is exactly one of schedule, person or name")
        return self

    def label(self) -> str:
        if self.schedule:
            return f"on call for {self.schedule}"
        return self.person or self.name or ""


class EscalationLevel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    after: Duration = Field(
        timedelta(0), description="Delay from the start of the escalation (incident opened)."
    )
    targets: list[EscalationTarget] = Field(min_length=1)
    until: Literal["acknowledged", "resolved"] = Field(
        "acknowledged",
        description="acknowledged: an acknowledgement stops this level (PagerDuty); resolved: "
        "it fires while the incident is unresolved, acknowledged or not (the seed).",
    )
    repeat_every: Duration | None = Field(
        None, description="Page again this often while the condition holds."
    )
    repeats: int = Field(
        3, ge=0, le=100, description="At most this many repeats (with repeat_every)."
    )

    @model_validator(mode="after")
    def _repeat(self) -> EscalationLevel:
        if self.repeat_every is not None and self.repeat_every <= timedelta(0):
            raise ValueError("repeat_every must be positive")
        return self


class EscalationPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    levels: list[EscalationLevel] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> EscalationPolicy:
        delays = [level.after for level in self.levels]
        if delays != sorted(delays):
            raise ValueError(f"policy {self.name}: levels must be in order of their delay")
        return self


def _seed_policies() -> list[EscalationPolicy]:
    on_call = [EscalationTarget(name="on-call")]
    return [
        EscalationPolicy(
            name="sev1",
            levels=[
                EscalationLevel(
                    targets=on_call,
                    until="acknowledged",
                    repeat_every=timedelta(minutes=5),
                    repeats=11,
                ),
                EscalationLevel(
                    after=timedelta(minutes=10),
                    targets=[EscalationTarget(name="manager")],
                    until="resolved",
                ),
                EscalationLevel(
                    after=timedelta(minutes=20),
                    targets=[EscalationTarget(name="director")],
                    until="resolved",
                ),
            ],
        ),
        EscalationPolicy(
            name="sev2",
            levels=[
                EscalationLevel(
                    after=timedelta(minutes=30),
                    targets=on_call,
                    until="acknowledged",
                    repeat_every=timedelta(minutes=10),
                    repeats=3,
                )
            ],
        ),
    ]


class EscalationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policies: list[EscalationPolicy] = Field(default_factory=_seed_policies)
    by_severity: dict[Severity, str] = Field(
        default_factory=lambda: {Severity.SEV1: "sev1", Severity.SEV2: "sev2"},
        description="The policy each severity follows; a severity not listed does not escalate.",
    )

    @model_validator(mode="after")
    def _known(self) -> EscalationConfig:
        names = [p.name for p in self.policies]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"escalation policies named more than once: {', '.join(duplicates)}")
        for severity, name in self.by_severity.items():
            if name not in names:
                raise ValueError(
                    f"by_severity.{severity.value}: no escalation policy named {name!r} "
                    f"(defined: {', '.join(names) or 'none'})"
                )
        return self

    def policy_for(self, severity: Severity) -> EscalationPolicy | None:
        name = self.by_severity.get(severity)
        return next((p for p in self.policies if p.name == name), None)
