"""webhooks and e-mail: users' webhooks, the delivery outbox and log, and an e-mail address per user

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("by_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
    op.create_table(
        "by_webhooks",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["by_users.id"], name=op.f("fk_by_webhooks_user_id_by_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_by_webhooks")),
    )
    op.create_index(op.f("ix_by_webhooks_user_id_id"), "by_webhooks", ["user_id", "id"], unique=False)
    op.create_table(
        "by_deliveries",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target_id", Id, nullable=False),
        sa.Column("notification_id", Id, nullable=True),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("log", sa.Text(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["by_notifications.id"],
            name=op.f("fk_by_deliveries_notification_id_by_notifications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["by_users.id"], name=op.f("fk_by_deliveries_user_id_by_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_by_deliveries")),
        sa.UniqueConstraint(
            "notification_id", "channel", "target_id", name=op.f("uq_by_deliveries_notification_id_channel_target_id")
        ),
    )
    op.create_index(
        op.f("ix_by_deliveries_channel_target_id_id"), "by_deliveries", ["channel", "target_id", "id"], unique=False
    )
    op.create_index(
        op.f("ix_by_deliveries_status_next_attempt_at"), "by_deliveries", ["status", "next_attempt_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_by_deliveries_status_next_attempt_at"), table_name="by_deliveries")
    op.drop_index(op.f("ix_by_deliveries_channel_target_id_id"), table_name="by_deliveries")
    op.drop_table("by_deliveries")
    op.drop_index(op.f("ix_by_webhooks_user_id_id"), table_name="by_webhooks")
    op.drop_table("by_webhooks")
    with op.batch_alter_table("by_users", schema=None) as batch_op:
        batch_op.drop_column("email")
