"""What a job's code sees while it runs: its params, the item's attempt, and ways to skip or label work."""

from __future__ import annotations

from typing import Any, NoReturn

LABEL_LIMIT = 200


class Skip(Exception):
    """Raised by ``ctx.skip(reason)``: the item is counted as skipped, not failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
        self.label: str | None = None
        self.connection: Any = None
        self.stop_requested = False

    @property
    def current(self) -> str | None:
        """What the job is doing now, for people watching: the label set by ``process``, else the item."""
        if self.label is not None:
            return self.label[:LABEL_LIMIT]
        if self.item is None:
            return None
        text = self.item if isinstance(self.item, str) else repr(self.item)
        return text[:LABEL_LIMIT]

    @current.setter
    def current(self, label: str | None) -> None:
        self.label = label

    def skip(self, reason: str = "") -> NoReturn:
        raise Skip(reason)

    def should_stop(self) -> bool:
        """True once the job was cancelled or paused, or the worker is shutting down.

        A long-running ``process`` may poll this to stop early; items are always stopped between.
        """
        return self.stop_requested

    def request_stop(self) -> None:
        self.stop_requested = True
