"""a failed item's own input and its place in the file it came from, for items that are not stored in their
chunk (the rows of an import are read from the file again; only the failed ones are kept); the resource a job
works on, to list a resource's imports and exports

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("by_item_errors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("input", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("ref", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("by_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resource", sa.String(length=200), nullable=True))
    op.create_index(op.f("ix_by_jobs_resource_id"), "by_jobs", ["resource", "id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_by_jobs_resource_id"), table_name="by_jobs")
    with op.batch_alter_table("by_jobs", schema=None) as batch_op:
        batch_op.drop_column("resource")
    with op.batch_alter_table("by_item_errors", schema=None) as batch_op:
        batch_op.drop_column("ref")
        batch_op.drop_column("input")
