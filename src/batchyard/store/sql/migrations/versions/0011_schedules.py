"""cron schedules and the record of each of their slots

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UtcTime = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "by_schedules",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("cron", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("overlap", sa.String(32), nullable=False),
        sa.Column("missed", sa.Text(), nullable=False),
        sa.Column("pause_on_failure", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("paused_reason", sa.Text()),
        sa.Column("cursor_at", UtcTime, nullable=False),
        sa.Column("failure_seen", Id, server_default="0", nullable=False),
        sa.Column("created_at", UtcTime, nullable=False),
        sa.Column("updated_at", UtcTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_by_schedules")),
        sa.UniqueConstraint("owner", "name", name=op.f("uq_by_schedules_owner_name")),
    )
    op.create_index(op.f("ix_by_schedules_paused_cursor_at"), "by_schedules", ["paused", "cursor_at"])
    op.create_table(
        "by_schedule_slots",
        sa.Column("schedule_id", Id, nullable=False),
        sa.Column("slot_at", UtcTime, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32)),
        sa.Column("job_id", Id),
        sa.Column("count", sa.BigInteger(), server_default="1", nullable=False),
        sa.Column("last_at", UtcTime),
        sa.Column("detail", sa.Text()),
        sa.Column("detail_zh", sa.Text()),
        sa.Column("decided_at", UtcTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["by_schedules.id"],
            name=op.f("fk_by_schedule_slots_schedule_id_by_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("schedule_id", "slot_at", name=op.f("pk_by_schedule_slots")),
    )
    op.create_index(op.f("ix_by_schedule_slots_schedule_id_outcome"), "by_schedule_slots", ["schedule_id", "outcome"])


def downgrade() -> None:
    op.drop_table("by_schedule_slots")
    op.drop_table("by_schedules")
