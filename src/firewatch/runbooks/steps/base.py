"""What a step implementation receives and returns."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from firewatch.clock import Clock
from firewatch.config import FirewatchConfig, ModelConfig, RunbooksConfig
from firewatch.runbooks.schema import Outcome
from firewatch.store.db import Database
from firewatch.store.writer import Writer

if TYPE_CHECKING:  # detection's value types; the readers come from app.py
    from firewatch.detect.events import Failures
    from firewatch.detect.runner import DriftFindings


@dataclass(frozen=True)
class IncidentView:
    """The parts of the incident a step may look at."""

    id: int
    display_id: str
    model: str | None
    model_version: str | None
    opened_at: datetime
    status: str
    severity: str = "SEV4"
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StepResult:
    outcome: Outcome
    summary: str
    output: dict[str, Any] = field(default_factory=dict)
    broken: bool = False
    """The step could not do its job (timed out, raised, misconfigured), as opposed to a check
    that ran and found its condition false; an unanswered broken step escalates."""


@dataclass(frozen=True)
class EvidenceSources:
    """Readers of what only the running server knows, injected by app.py (model name → value)."""

    signals: Callable[[str], dict[str, float]]
    failures: Callable[[str], Failures | None]
    drift: Callable[[str], DriftFindings | None]


@dataclass(frozen=True)
class StepContext:
    incident: IncidentView
    model: ModelConfig | None
    settings: RunbooksConfig
    db: Database
    writer: Writer
    clock: Clock
    client: httpx.AsyncClient
    actor: str
    config: FirewatchConfig
    evidence: EvidenceSources | None = None
    """What only the running server knows (signals, failed requests, drift); None elsewhere."""
    dry_run: bool = False
    """Plan only: checks may read, actions must change nothing and say what they would do."""


StepImpl = Callable[[StepContext, dict[str, Any]], Awaitable[StepResult]]
