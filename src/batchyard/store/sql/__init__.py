"""The SQL store: the only package that talks to a database."""

from batchyard.store.sql.store import SqlStore

__all__ = ["SqlStore"]
