"""uploads and artifacts: files users send and files jobs produce (their bytes are in the blob store); items'
reasons for failing in Chinese too

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("by_item_errors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error_zh", sa.Text(), nullable=True))
    op.create_table(
        "by_uploads",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("blob_key", sa.String(length=512), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_by_uploads")),
    )
    op.create_index(op.f("ix_by_uploads_owner_id"), "by_uploads", ["owner", "id"], unique=False)
    op.create_index(op.f("ix_by_uploads_expires_at"), "by_uploads", ["expires_at"], unique=False)
    op.create_table(
        "by_job_uploads",
        sa.Column("job_id", Id, nullable=False),
        sa.Column("upload_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["by_jobs.id"], name=op.f("fk_by_job_uploads_job_id_by_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "upload_id", name=op.f("pk_by_job_uploads")),
    )
    op.create_index(op.f("ix_by_job_uploads_upload_id"), "by_job_uploads", ["upload_id"], unique=False)
    op.create_table(
        "by_artifacts",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("job_id", Id, nullable=False),
        sa.Column("item_index", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("blob_key", sa.String(length=512), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["by_jobs.id"], name=op.f("fk_by_artifacts_job_id_by_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_by_artifacts")),
        sa.UniqueConstraint("job_id", "item_index", "name", name=op.f("uq_by_artifacts_job_id_item_index_name")),
    )
    op.create_index(op.f("ix_by_artifacts_expires_at"), "by_artifacts", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_by_artifacts_expires_at"), table_name="by_artifacts")
    op.drop_table("by_artifacts")
    op.drop_index(op.f("ix_by_job_uploads_upload_id"), table_name="by_job_uploads")
    op.drop_table("by_job_uploads")
    op.drop_index(op.f("ix_by_uploads_expires_at"), table_name="by_uploads")
    op.drop_index(op.f("ix_by_uploads_owner_id"), table_name="by_uploads")
    op.drop_table("by_uploads")
    with op.batch_alter_table("by_item_errors", schema=None) as batch_op:
        batch_op.drop_column("error_zh")
