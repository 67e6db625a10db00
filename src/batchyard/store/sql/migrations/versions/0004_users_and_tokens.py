"""users and tokens: who calls the service, their hashed passwords and tokens, failed sign-ins

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 06:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "by_users",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("quota", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_by_users")),
        sa.UniqueConstraint("name", name=op.f("uq_by_users_name")),
    )
    op.create_table(
        "by_tokens",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["by_users.id"], name=op.f("fk_by_tokens_user_id_by_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_by_tokens")),
        sa.UniqueConstraint("digest", name=op.f("uq_by_tokens_digest")),
    )
    op.create_index(op.f("ix_by_tokens_user_id"), "by_tokens", ["user_id"], unique=False)
    op.create_table(
        "by_login_failures",
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("subject", "minute", name=op.f("pk_by_login_failures")),
    )


def downgrade() -> None:
    op.drop_table("by_login_failures")
    op.drop_index(op.f("ix_by_tokens_user_id"), table_name="by_tokens")
    op.drop_table("by_tokens")
    op.drop_table("by_users")
