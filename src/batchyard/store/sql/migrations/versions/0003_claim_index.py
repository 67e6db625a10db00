"""claim index: a job's pending chunks in seq order

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 02:10:00.000000

The claim takes a job's first pending chunk by ``seq``. The index on (job_id, status, run_after) found the
pending chunks but not their order, so every claim sorted all of them and its cost grew with the job.
(job_id, status, seq, run_after) walks them in order and checks ``run_after`` in the index itself.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("by_chunks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_by_chunks_job_id_status_seq_run_after"),
            ["job_id", "status", "seq", "run_after"],
            unique=False,
        )
        batch_op.drop_index(batch_op.f("ix_by_chunks_job_id_status_run_after"))


def downgrade() -> None:
    with op.batch_alter_table("by_chunks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_by_chunks_job_id_status_run_after"), ["job_id", "status", "run_after"], unique=False
        )
        batch_op.drop_index(batch_op.f("ix_by_chunks_job_id_status_seq_run_after"))
