"""bulk_update's before and after images, and which update each rollback undid

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "by_bulk_images",
        sa.Column("job_id", Id, nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("old_values", sa.Text(), nullable=False),
        sa.Column("new_values", sa.Text(), nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["by_jobs.id"], name=op.f("fk_by_bulk_images_job_id_by_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "key", name=op.f("pk_by_bulk_images")),
    )
    op.create_table(
        "by_bulk_rollbacks",
        sa.Column("job_id", Id, nullable=False),
        sa.Column("rollback_of", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["by_jobs.id"], name=op.f("fk_by_bulk_rollbacks_job_id_by_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["rollback_of"], ["by_jobs.id"], name=op.f("fk_by_bulk_rollbacks_rollback_of_by_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_by_bulk_rollbacks")),
        sa.UniqueConstraint("rollback_of", name=op.f("uq_by_bulk_rollbacks_rollback_of")),
    )


def downgrade() -> None:
    op.drop_table("by_bulk_rollbacks")
    op.drop_table("by_bulk_images")
