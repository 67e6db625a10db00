"""notifications: an inbox entry per finished job of a service user

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "by_notifications",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("job_id", Id, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["by_users.id"], name=op.f("fk_by_notifications_user_id_by_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_by_notifications")),
    )
    op.create_index(op.f("ix_by_notifications_user_id_id"), "by_notifications", ["user_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_by_notifications_user_id_id"), table_name="by_notifications")
    op.drop_table("by_notifications")
