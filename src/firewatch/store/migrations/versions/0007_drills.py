"""drills: drill runs and drill incidents (issue 6)

A drill registers itself while it runs; an incident opened for its model meanwhile carries the
drill's id (``incidents.drill_run_id``) and is left out of the real statistics.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 18:00:02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
RUNNING = sa.text("status = 'running'")


def upgrade() -> None:
    op.create_table(
        "drill_runs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("scenario", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("game_day", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("incident_ref", sa.String(length=32), nullable=True),
        sa.Column("severity", sa.String(length=8), nullable=True),
        sa.Column("runbook", sa.String(length=100), nullable=True),
        sa.Column("times", JSON, nullable=False),
        sa.Column("failures", JSON, nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drill_runs")),
    )
    op.create_index(
        "ix_drill_runs_scenario_started_at", "drill_runs", ["scenario", "started_at"], unique=False
    )
    op.create_index(
        "uq_drill_runs_running_model",
        "drill_runs",
        ["model"],
        unique=True,
        sqlite_where=RUNNING,
        postgresql_where=RUNNING,
    )
    # Plain ALTER TABLE ADD COLUMN (no batch copy): the incidents table keeps its partial index.
    op.add_column("incidents", sa.Column("drill_run_id", sa.BigInteger(), nullable=True))
    op.create_index("ix_incidents_drill_run_id", "incidents", ["drill_run_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_incidents_drill_run_id", table_name="incidents")
    op.drop_column("incidents", "drill_run_id")  # SQLite >= 3.35 drops a column in place
    op.drop_index("uq_drill_runs_running_model", table_name="drill_runs")
    op.drop_index("ix_drill_runs_scenario_started_at", table_name="drill_runs")
    op.drop_table("drill_runs")
