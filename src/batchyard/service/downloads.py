"""What a job gives back as files: its items' outputs as one streamed ZIP, and its failed items as a report to
fix and submit again."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from itertools import chain, islice

from batchyard.core.filenames import UniqueNames
from batchyard.core.files import Artifact
from batchyard.core.model import Job
from batchyard.errors import BlobNotFound, NoItemOutput, NothingToDownload
from batchyard.service.archives import ZipEntry, zip_stream
from batchyard.service.error_reports import COLUMN_SAMPLE, FailedRow, errors_csv, errors_xlsx, report_columns
from batchyard.service.files import FileService
from batchyard.store.base import Store

SUCCEEDED = "succeeded"


class Downloads:
    def __init__(self, store: Store, files: FileService) -> None:
        self.store = store
        self.files = files

    def archive(self, job: Job, *, success_only: bool = True) -> Iterator[bytes]:
        """The ZIP of the job's item outputs in item order, named after the files they came from (unique,
        duplicates numbered); only succeeded items' unless ``success_only`` is off. ``NothingToDownload``
        before any byte when there is no file to put in it."""
        outputs = self._outputs(job, success_only=success_only)
        if not outputs:
            raise NothingToDownload(job_id=job.id)
        stored = self.files.stored_outputs(job.id)  # one listing, not a look per file
        for artifact in outputs:  # a missing file is an error now, not a download broken off half-way
            if artifact.blob_key not in stored:
                raise BlobNotFound(key=artifact.blob_key)
        names = UniqueNames()
        entries = [
            ZipEntry(
                name=names.assign(a.name),
                chunks=partial(self.files.read, a.blob_key),
                modified=a.created_at,
                size=a.size,
            )
            for a in outputs
        ]
        return zip_stream(entries)

    def item_output(self, job: Job, index: int) -> Artifact:
        """The output of a succeeded item (an item that failed after saving a file has no output)."""
        item = next(self.store.items(job.id, start=index), None)
        if item is not None and item.index == index and item.status == SUCCEEDED:
            for artifact in self.store.artifacts(job.id):
                if artifact.item_index == index:
                    return artifact
        raise NoItemOutput(job_id=job.id, index=index)

    def errors(self, job: Job, *, format: str, language: str) -> Iterator[bytes]:
        """The failed items with their input, reason and attempts, as CSV or XLSX."""
        rows = self._failed_rows(job, chinese=language.lower().startswith("zh"))
        sample = list(islice(rows, COLUMN_SAMPLE))
        columns = report_columns(sample)
        every = chain(sample, rows)
        if format == "xlsx":
            return errors_xlsx(every, columns, language=language)
        return errors_csv(every, columns, language=language)

    def _outputs(self, job: Job, *, success_only: bool) -> list[Artifact]:
        outputs = [a for a in self.store.artifacts(job.id) if a.item_index is not None]
        if not success_only or not outputs:
            return outputs
        succeeded = {item.index for item in self.store.items(job.id, SUCCEEDED)}
        return [a for a in outputs if a.item_index in succeeded]

    def _failed_rows(self, job: Job, *, chinese: bool) -> Iterator[FailedRow]:
        for record in self.store.items(job.id, "failed"):
            error = (record.error_zh if chinese else None) or record.error or ""
            yield FailedRow(
                index=record.index, item=record.input, error=error, attempts=record.attempts, ref=record.ref
            )
