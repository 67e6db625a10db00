"""What a job's code sees while it runs: its params, the item's attempt, and ways to skip or label work."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, BinaryIO, NoReturn

from batchyard.core.files import Artifact, JobFiles
from batchyard.errors import ConfigurationError

LABEL_LIMIT = 200


class Skip(Exception):
    """Raised by ``ctx.skip(reason)``: the item is counted as skipped, not failed."""

    def __init__(self, reason: str, reason_zh: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reason_zh = reason_zh  # the reason in Chinese, for reports read in Chinese


class RetryLater(Exception):
    """Raised by ``process`` when the item cannot run yet (what it needs is not ready): it stays pending and its
    chunk is run again after ``seconds``, without counting as a failed attempt."""

    def __init__(self, reason: str, seconds: float = 5.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.seconds = seconds


class Completed(list[Any]):
    """What a ``load`` returns when loading did its items' work (an export's page, written as it was read; an
    import's rows, all valid): the items' outputs. The chunk's pending items then succeed with them and
    ``process`` is not called, so a page of rows costs no call per row — while each row still counts as an item
    for progress. ``items``: the items themselves, kept for a failure after loading (``write`` refusing one of
    them records what it was); without them, the outputs stand in."""

    def __init__(self, outputs: Iterable[Any] = (), *, items: Iterable[Any] | None = None) -> None:
        super().__init__(outputs)
        self.items = None if items is None else list(items)


class Context:
    """Per-chunk context handed to ``process`` and ``write``.

    ``connection`` is set only inside ``write``: the open connection of the chunk's commit transaction, so
    what ``write`` does to the state database commits (or rolls back) together with the chunk.
    """

    def __init__(self, *, job_id: int, owner: str, params: Any, round: int) -> None:
        self.job_id = job_id
        self.owner = owner
        self.params = params
        self.round = round
        self.attempt = 1
        self.item: Any = None
        self.index = -1  # the item's position in the job
        self.label: str | None = None
        self.connection: Any = None
        self.stop_requested = False
        self.files: JobFiles | None = None
        self.state: Any = None  # the job type's own, for one chunk: what ``load`` found for ``process`` and ``write``

    @property
    def current(self) -> str | None:
        """What the job is doing now, for people watching: the label set by ``process``, else the item."""
        if self.label is not None:
            return self.label[:LABEL_LIMIT]
        if self.item is None:
            return None
        return _as_text(self.item)[:LABEL_LIMIT]

    @current.setter
    def current(self, label: object) -> None:
        """Any value: a job's code may well hand over the record in hand rather than text (read as its repr)."""
        self.label = None if label is None else _as_text(label)[: LABEL_LIMIT * 2]

    def open_upload(self, upload_id: int) -> BinaryIO:
        """A file the job's owner uploaded (an item of a job submitted with ``upload_ids``), to read."""
        return self._files().open_upload(self.owner, upload_id)

    def read_upload(self, upload_id: int, offset: int, length: int) -> bytes:
        """Part of an upload of the job's owner: a chunk's byte range of a big file."""
        return self._files().read_upload(self.owner, upload_id, offset, length)

    def save_file(self, name: str, data: Iterable[bytes], content_type: str, *, kind: str = "file") -> Artifact:
        """Keep a file of the job's own (an export): listed in its artifacts, replacing one of the same name."""
        return self._files().save_file(self.job_id, name, data, content_type, kind=kind)

    def open_file(self, name: str) -> BinaryIO:
        return self._files().open_file(self.job_id, name)

    def read_file(self, name: str, offset: int, length: int) -> bytes:
        return self._files().read_file(self.job_id, name, offset, length)

    def list_files(self) -> list[Artifact]:
        return self._files().list_files(self.job_id)

    def delete_files(self, names: Iterable[str]) -> None:
        self._files().delete_files(self.job_id, names)

    def save_output(self, name: str, data: bytes | BinaryIO, content_type: str) -> Artifact:
        """Keep this item's output file: downloadable alone, in the job's ZIP, and listed in its artifacts."""
        return self._files().save_output(self.job_id, self.index, name, data, content_type)

    def _files(self) -> JobFiles:
        if self.files is None:
            raise ConfigurationError(reason="this worker has no blob store for files")
        return self.files

    def skip(self, reason: str = "") -> NoReturn:
        raise Skip(reason)

    def should_stop(self) -> bool:
        """True once the job was cancelled or paused, or the worker is shutting down.

        A long-running ``process`` may poll this to stop early; items are always stopped between.
        """
        return self.stop_requested

    def request_stop(self) -> None:
        self.stop_requested = True


def _as_text(value: object) -> str:
    """A label for people: text as it is, anything else as its repr, or its type's name when that fails too."""
    if isinstance(value, str):
        return value
    try:
        return repr(value)
    except Exception:  # noqa: BLE001 - a label must never fail the item or the worker that reports it
        return type(value).__name__
