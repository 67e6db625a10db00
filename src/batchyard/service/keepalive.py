"""Keeping a planning lease alive by time, from a thread, while a source or a submitter's items are read.

A source may be slow (a remote API, a legacy database): its planner must never be taken for dead because no
batch was stored for a while. The lease is renewed every third of its length whatever the source does.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from batchyard.errors import BatchyardError
from batchyard.store.base import Store

log = logging.getLogger("batchyard.planner")


class PlanningLease:
    """Renews ``token``'s planning lease on ``job_id`` until closed; ``lost`` once a renewal was refused
    (the job was cancelled, or another planner took over after this one stalled past its lease)."""

    def __init__(self, store: Store, job_id: int, token: str, *, lease: float) -> None:
        self._store = store
        self._job_id = job_id
        self._token = token
        self._lease = lease
        self._closed = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._run, name=f"batchyard-planning-{job_id}", daemon=True)

    def __enter__(self) -> PlanningLease:
        self._thread.start()
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._closed.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._closed.wait(self._lease / 3):
            try:
                renewed = self._store.renew_planning(self._job_id, self._token, self._lease)
            except BatchyardError as exc:  # the database is away: try again at the next beat
                log.warning("renewing the planning lease of job %s failed: %s", self._job_id, exc)
                continue
            if not renewed:
                self.lost = True
                return
