"""Alembic environment: runs on the connection batchyard hands over, inside batchyard's transaction."""

from __future__ import annotations

from alembic import context

from batchyard.store.sql.migrate import VERSION_TABLE
from batchyard.store.sql.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
context.run_migrations()
