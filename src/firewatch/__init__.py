"""Firewatch: incident response for machine-learning models in production.

Usage: ``firewatch serve --config firewatch.yaml`` (see ``firewatch --help``).
"""

from __future__ import annotations

from firewatch.clock import Clock, FakeClock, SystemClock
from firewatch.severity import Severity, SeverityPolicy, Signals, classify, effective_severity

__version__ = "0.1.0"

__all__ = [
    "Clock",
    "FakeClock",
    "Severity",
    "SeverityPolicy",
    "Signals",
    "SystemClock",
    "__version__",
    "classify",
    "effective_severity",
]
