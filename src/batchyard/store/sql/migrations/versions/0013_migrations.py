"""migrate's key ranges and rejected rows

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UtcTime = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "by_migration_ranges",
        sa.Column("job_id", Id, nullable=False),
        sa.Column("range", sa.Integer(), nullable=False),
        sa.Column("lo", sa.Text(), nullable=False),
        sa.Column("hi", sa.Text(), nullable=False),
        sa.Column("read", sa.BigInteger(), nullable=False),
        sa.Column("written", sa.BigInteger(), nullable=False),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
        sa.Column("skipped", sa.BigInteger(), nullable=False),
        sa.Column("source_count", sa.BigInteger()),
        sa.Column("source_sum", sa.String(16)),
        sa.Column("target_count", sa.BigInteger()),
        sa.Column("target_sum", sa.String(16)),
        sa.Column("verified", sa.Boolean()),
        sa.Column("mismatches", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("mismatched_keys", sa.Text()),
        sa.Column("started_at", UtcTime, nullable=False),
        sa.Column("finished_at", UtcTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["by_jobs.id"], name=op.f("fk_by_migration_ranges_job_id_by_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "range", name=op.f("pk_by_migration_ranges")),
    )
    op.create_table(
        "by_migration_rejects",
        sa.Column("job_id", Id, nullable=False),
        sa.Column("range", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("row", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["by_jobs.id"], name=op.f("fk_by_migration_rejects_job_id_by_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "range", "position", name=op.f("pk_by_migration_rejects")),
    )


def downgrade() -> None:
    op.drop_table("by_migration_rejects")
    op.drop_table("by_migration_ranges")
