"""Imports every table module so that `Base.metadata` describes the whole database (Alembic, tests)."""

from __future__ import annotations

from firewatch.alerts import models as alerts_models
from firewatch.auth import models as auth_models
from firewatch.drills import models as drills_models
from firewatch.incidents import models as incidents_models
from firewatch.oncall import models as oncall_models
from firewatch.people import models as people_models
from firewatch.registry import models as registry_models
from firewatch.runbooks import models as runbooks_models
from firewatch.store import events, jobs
from firewatch.store.base import Base

metadata = Base.metadata

__all__ = [
    "alerts_models",
    "auth_models",
    "drills_models",
    "events",
    "incidents_models",
    "jobs",
    "metadata",
    "oncall_models",
    "people_models",
    "registry_models",
    "runbooks_models",
]
