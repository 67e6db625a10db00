"""job failure policies: max_failures and stop_on_error kept on the job, for the reaper

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("by_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_failures", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("stop_on_error", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("by_jobs", schema=None) as batch_op:
        batch_op.drop_column("stop_on_error")
        batch_op.drop_column("max_failures")
