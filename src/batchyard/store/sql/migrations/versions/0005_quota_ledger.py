"""quota ledger: what each job costs, and every move of a user's balance as a row with a unique key

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 06:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("by_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit_cost", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("prepaid", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "by_ledger",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("job_id", Id, nullable=True),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["by_users.id"], name=op.f("fk_by_ledger_user_id_by_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_by_ledger")),
        sa.UniqueConstraint("key", name=op.f("uq_by_ledger_key")),
    )
    op.create_index(op.f("ix_by_ledger_job_id"), "by_ledger", ["job_id"], unique=False)
    op.create_index(op.f("ix_by_ledger_user_id_id"), "by_ledger", ["user_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_by_ledger_user_id_id"), table_name="by_ledger")
    op.drop_index(op.f("ix_by_ledger_job_id"), table_name="by_ledger")
    op.drop_table("by_ledger")
    with op.batch_alter_table("by_jobs", schema=None) as batch_op:
        batch_op.drop_column("prepaid")
        batch_op.drop_column("unit_cost")
