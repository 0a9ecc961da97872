"""runbook runs that wait for a person (approval of a proposed action, a blocking checklist item)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("runbook_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waiting", JSON, nullable=True))
        batch_op.add_column(
            sa.Column("decisions", JSON, nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("runbook_runs", schema=None) as batch_op:
        batch_op.drop_column("decisions")
        batch_op.drop_column("waiting")
