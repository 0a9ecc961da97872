"""Drift detection: statistical tests, reference profiles, column and dataset verdicts.

Usage::

    from firewatch.drift import check_tables, read_table
    report = check_tables(read_table("reference.parquet"), read_table("current.csv"))
    print(report.dataset_drift, [c.name for c in report.drifted])
"""

from __future__ import annotations

from firewatch.drift.check import (
    ColumnDrift,
    DriftOptions,
    DriftReport,
    check_profile,
    check_sketches,
    check_tables,
    default_test,
)
from firewatch.drift.data import DataError, Table, read_table
from firewatch.drift.profile import Profile, build_profile
from firewatch.drift.stattests import REGISTRY, Kind, StatTest, TestResult, get

__all__ = [
    "REGISTRY",
    "ColumnDrift",
    "DataError",
    "DriftOptions",
    "DriftReport",
    "Kind",
    "Profile",
    "StatTest",
    "Table",
    "TestResult",
    "build_profile",
    "check_profile",
    "check_sketches",
    "check_tables",
    "default_test",
    "get",
    "read_table",
]
