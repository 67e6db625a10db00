"""The built-in ``migrate`` job type: another database's table or query copied into a resource, verified."""

from __future__ import annotations

from batchyard.jobs.migrate.job import MigrationJobType, migrate_job_type
from batchyard.jobs.migrate.mapping import register_function

__all__ = ["MigrationJobType", "migrate_job_type", "register_function"]
