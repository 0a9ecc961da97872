"""The incident lifecycle state machine.

::

    triggered ──► acknowledged ──► investigating ──► mitigated ──► resolved ──► closed
        │  └──────────┴───────────────┴─► mitigated     │  ▲            │
        └────────────── any open status ─► resolved     │  │            │
                         mitigated ─► investigating ────┘  └─ reopened ◄┘ (resolved ─► investigating)

* ``triggered``: opened by an alert or declared by a person; nobody has taken it yet.
* ``acknowledged``: someone owns it (stops "unacknowledged" escalation).
* ``investigating``: looking for the cause (taking ownership this way also acknowledges).
* ``mitigated``: user impact stopped, e.g. a verified rollback; the cause may still be there.
  Back to ``investigating`` if the mitigation does not hold.
* ``resolved``: fixed — every alert cleared and stayed clear, or a person says so.
  Reopening goes back to ``investigating``.
* ``closed``: the record is final (post-mortem done); nothing moves it again.
"""

from __future__ import annotations

from enum import StrEnum

from firewatch.errors import Conflict, InvalidInput


class Status(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATUSES


OPEN_STATUSES = frozenset(
    {Status.TRIGGERED, Status.ACKNOWLEDGED, Status.INVESTIGATING, Status.MITIGATED}
)

TRANSITIONS: dict[Status, tuple[Status, ...]] = {
    Status.TRIGGERED: (
        Status.ACKNOWLEDGED,
        Status.INVESTIGATING,
        Status.MITIGATED,
        Status.RESOLVED,
    ),
    Status.ACKNOWLEDGED: (Status.INVESTIGATING, Status.MITIGATED, Status.RESOLVED),
    Status.INVESTIGATING: (Status.MITIGATED, Status.RESOLVED),
    Status.MITIGATED: (Status.INVESTIGATING, Status.RESOLVED),
    Status.RESOLVED: (Status.INVESTIGATING, Status.CLOSED),
    Status.CLOSED: (),
}


def parse_status(value: str) -> Status:
    try:
        return Status(value.strip().lower())
    except ValueError:
        names = ", ".join(s.value for s in Status)
        raise InvalidInput(
            f"unknown status {value!r}: expected one of {names}",
            code="invalid_status",
            details={"allowed": [s.value for s in Status]},
        ) from None


def check_transition(display_id: str, current: Status, target: Status) -> None:
    """Raise a 409 naming the allowed targets unless ``current -> target`` is a transition."""
    allowed = TRANSITIONS[current]
    if target in allowed:
        return
    options = ", ".join(s.value for s in allowed) or "none (closed is final)"
    raise Conflict(
        f"{display_id} is {current.value} and cannot move to {target.value}; "
        f"allowed from {current.value}: {options}",
        code="invalid_transition",
        details={"from": current.value, "to": target.value, "allowed": [s.value for s in allowed]},
    )
