"""on-call schedule overrides

Schedules live in the config file; overrides change at run time, so they live here.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oncall_overrides",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("schedule", sa.String(length=100), nullable=False),
        sa.Column("person", sa.String(length=64), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_overrides")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_oncall_overrides_schedule_ends_at",
        "oncall_overrides",
        ["schedule", "ends_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_oncall_overrides_schedule_ends_at", table_name="oncall_overrides")
    op.drop_table("oncall_overrides")
