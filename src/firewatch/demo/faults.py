"""Faults injected at run time through the admin API: an outage, an error rate, added latency and
a shift of the inputs (data drift)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

MAX_LATENCY_MS = 600_000
"""Ten minutes: more than any demo needs, small enough to catch a unit mistake (µs vs ms)."""

MAX_INPUT_SHIFT = 1000.0
InputShift = Annotated[float, Field(gt=0.0, le=MAX_INPUT_SHIFT, allow_inf_nan=False)]


class FaultSettings(BaseModel):
    """The faults currently injected; an immutable value replaced as a whole on each change."""

    model_config = ConfigDict(frozen=True)

    outage: bool = False
    error_rate: float = 0.0
    latency_ms: int = 0
    input_shift: float = 1.0
    """Factor the service's preprocessing multiplies the size features by before predicting (a
    unit change upstream): 1.0 is no shift. The features it reports to Firewatch are the shifted
    ones, so the inputs drift and, the model seeing larger tumours than there are, accuracy falls."""


class FaultUpdate(BaseModel):
    """Body of ``POST /admin/faults``: only the fields given are changed."""

    model_config = ConfigDict(extra="forbid", strict=True)

    outage: bool | None = None
    error_rate: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] | None = None
    latency_ms: Annotated[int, Field(ge=0, le=MAX_LATENCY_MS)] | None = None
    input_shift: InputShift | None = None

    def apply_to(self, current: FaultSettings) -> FaultSettings:
        """The settings after this update."""
        return current.model_copy(update=self.model_dump(exclude_none=True))
