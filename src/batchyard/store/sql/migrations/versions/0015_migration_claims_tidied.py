"""migrate: the migrations whose key claims housekeeping has begun to delete

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "by_migration_claims_tidied",
        sa.Column("job_id", Id, nullable=False),
        sa.Column("tidied_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["by_jobs.id"], name=op.f("fk_by_migration_claims_tidied_job_id_by_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_by_migration_claims_tidied")),
    )


def downgrade() -> None:
    op.drop_table("by_migration_claims_tidied")
