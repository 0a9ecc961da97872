"""alerts: a partial index for pruning instead of (status, model)

Every new alert paid for the (status, model) index (about a fifth of the cost of storing a
flood of new alerts), which only the alert listing used — and that listing sorts by
last_seen_at anyway. Pruning resolved alerts keeps an index, on resolved alerts only.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 14:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

RESOLVED = sa.text("status = 'resolved'")


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_status_model")
    op.create_index(
        "ix_alerts_resolved_ends_at",
        "alerts",
        ["ends_at"],
        unique=False,
        sqlite_where=RESOLVED,
        postgresql_where=RESOLVED,
    )


def downgrade() -> None:
    op.drop_index("ix_alerts_resolved_ends_at", table_name="alerts")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index("ix_alerts_status_model", ["status", "model"], unique=False)
