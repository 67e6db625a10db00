"""migrate's ledger of target keys: which range wrote each

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "by_migration_keys",
        sa.Column("job_id", Id, nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("range", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["by_jobs.id"], name=op.f("fk_by_migration_keys_job_id_by_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "key", name=op.f("pk_by_migration_keys")),
    )
    op.create_index(op.f("ix_by_migration_keys_job_id_range"), "by_migration_keys", ["job_id", "range"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_by_migration_keys_job_id_range"), table_name="by_migration_keys")
    op.drop_table("by_migration_keys")
