"""drills: drill runs and drill incidents (issue 6)

PLACEHOLDER: filled in by the drills work; keeps the revision chain linear.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 18:00:02
"""

from __future__ import annotations

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
