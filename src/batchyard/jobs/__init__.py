"""The built-in job types, registered in every yard (an app may replace or remove them): one module or small
package per job type."""

from __future__ import annotations

from batchyard.core.jobtype import JobType
from batchyard.jobs.images.job import images_job_type


def builtin_job_types() -> list[JobType]:
    return [images_job_type()]
