"""The built-in job types, registered in every yard (an app may replace or remove them): one module or small
package per job type."""

from __future__ import annotations

from collections.abc import Mapping

from batchyard.core.jobtype import JobType
from batchyard.core.resources import Resource
from batchyard.jobs.bulk import bulk_rollback_job_type, bulk_update_job_type
from batchyard.jobs.images.job import images_job_type
from batchyard.jobs.migrate import migrate_job_type
from batchyard.jobs.tabular.exporting import export_job_type
from batchyard.jobs.tabular.importing import import_job_type
from batchyard.store.sql.resource_reads import ResourceDatabases
from batchyard.store.sql.source_policy import SourcePolicy


def builtin_job_types(
    resources: Mapping[str, Resource], databases: ResourceDatabases, *, migrate_sources: SourcePolicy
) -> list[JobType]:
    """``resources``: the yard's, read when a job runs, so those declared later are found too; ``databases``:
    where an export reads them and an import writes them; ``migrate_sources``: what a migration may read."""
    return [
        images_job_type(),
        import_job_type(resources, databases),
        export_job_type(resources, databases),
        bulk_update_job_type(resources, databases),
        bulk_rollback_job_type(resources, databases),
        migrate_job_type(resources, databases, sources=migrate_sources),
    ]
