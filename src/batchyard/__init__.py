"""batchyard: large batch jobs you can watch, pause, resume, retry and trust."""

__version__ = "0.1.0"

from batchyard.core.context import Context, Skip
from batchyard.core.model import ItemRecord, Job
from batchyard.core.status import JobStatus
from batchyard.errors import BatchyardError
from batchyard.yard import Yard

__all__ = ["BatchyardError", "Context", "ItemRecord", "Job", "JobStatus", "Skip", "Yard", "__version__"]
