"""registry mitigation: traffic splits, the active region and region switches (issue 6)

The minimum healthy time of "last known good" needs no schema change: it is computed from the
deployments' first_healthy_at, failed_at and ended_at.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 18:00:01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("registered_models", schema=None) as batch_op:
        batch_op.add_column(sa.Column("active_region", sa.String(length=64), nullable=True))
    op.create_table(
        "traffic_splits",
        sa.Column("model_id", BIGINT, nullable=False),
        sa.Column("alias", sa.String(length=64), nullable=False),
        sa.Column("version_id", BIGINT, nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name=op.f("fk_traffic_splits_model_id_registered_models"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_traffic_splits_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("model_id", "alias", "version_id", name=op.f("pk_traffic_splits")),
    )
    op.create_table(
        "region_switches",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("model_id", BIGINT, nullable=False),
        sa.Column("from_region", sa.String(length=64), nullable=True),
        sa.Column("to_region", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("switched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name=op.f("fk_region_switches_model_id_registered_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_region_switches")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_region_switches_model_at",
        "region_switches",
        ["model_id", "switched_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_region_switches_model_at", table_name="region_switches")
    op.drop_table("region_switches")
    op.drop_table("traffic_splits")
    with op.batch_alter_table("registered_models", schema=None) as batch_op:
        batch_op.drop_column("active_region")
