"""The live feed: one reader per API process follows the events table and fans new events out to every
subscriber (the SSE streams), so a thousand watchers cost one query every tenth of a second, not a thousand.
The reader is woken as soon as events are committed (``Store.watch_events``), and reads at most every
``MIN_READ_GAP`` seconds however fast they come.

Events are handed out strictly in id order, each once. On PostgreSQL ids are drawn when a transaction inserts
its event and become visible when it commits, so a later id can appear before an earlier one; the reader then
holds back everything after the gap until the missing id appears, or for at most ``gap_wait`` seconds (a
transaction that rolled back never fills its gap). A reconnecting client that names the last id it saw gets
everything after it, from memory when it is recent and from the database otherwise — unless those events
are no longer kept (``resume_after`` says so, and the stream tells the client to fetch afresh).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress

from batchyard.errors import BatchyardError
from batchyard.store.base import Event, Store

log = logging.getLogger("batchyard.events")

POLL_SECONDS = 0.1
MIN_READ_GAP = 0.01
GAP_WAIT_SECONDS = 3.0
KEPT_IN_MEMORY = 10_000
READ_BATCH = 1_000


class EventsLost(Exception):
    """Events a stream had still to send were deleted (older than the retention period) while it caught up."""


class EventHub:
    def __init__(
        self,
        store: Store,
        *,
        poll: float = POLL_SECONDS,
        gap_wait: float = GAP_WAIT_SECONDS,
        kept: int = KEPT_IN_MEMORY,
    ) -> None:
        self.store = store
        self._poll = poll
        self._gap_wait = gap_wait
        self._recent: deque[Event] = deque(maxlen=kept)
        self._head = 0  # the last id handed out
        self._gap_since: float | None = None
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.subscribers = 0
        self.reads = 0  # how often the table was read (for watchers of the hub itself)

    @property
    def head(self) -> int:
        return self._head

    def start(self) -> None:
        """Begin following the table from its current end (earlier events are read from the database)."""
        with self._lock:
            if self._thread is not None:
                return
            self._head = self.store.last_event_id()
            self._thread = threading.Thread(target=self._follow, name="batchyard-events", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def after(self, event_id: int, job_id: int | None = None, limit: int = READ_BATCH) -> tuple[list[Event], int]:
        """Events (of ``job_id``, or all) with an id above ``event_id`` that were handed out, oldest first, and
        the id up to which that answer is complete: from memory while it still holds them, else from the
        database, never past the head."""
        with self._lock:
            head = self._head
            recent = list(self._recent) if self._recent and self._recent[0].id <= event_id + 1 else None
        if event_id >= head:
            return [], event_id
        if recent is not None:
            found = [e for e in recent if e.id > event_id and (job_id is None or e.job_id == job_id)]
            return found[:limit], found[limit - 1].id if len(found) > limit else head
        found = [e for e in self.store.events(job_id, after=event_id, limit=limit) if e.id <= head]
        # read after the page: events are deleted as a prefix, so if the oldest kept is still at most the next
        # id, nothing after ``event_id`` had been deleted when the page was read
        if self.store.oldest_event_id() > event_id + 1:
            raise EventsLost(event_id)
        return found, found[-1].id if len(found) == limit else head

    def resume_after(self, last_seen: int) -> bool:
        """Whether a stream that saw events up to ``last_seen`` can go on after it with nothing missing: not
        when the events after it were deleted (older than the retention period), nor when it is past every
        event there is (the database was replaced or restored from a backup)."""
        oldest = self.store.oldest_event_id()
        if oldest and last_seen + 1 < oldest:
            return False
        return last_seen <= max(self._head, self.store.last_event_id())

    async def wait_beyond(self, event_id: int, timeout: float) -> None:
        """Return once an event above ``event_id`` was handed out, or after ``timeout`` seconds."""
        if self._head > event_id:
            return
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.add(waiter)
        try:
            if self._head > event_id:
                return
            await asyncio.wait_for(waiter[1].wait(), timeout)
        except TimeoutError:
            return
        finally:
            with self._lock:
                self._waiters.discard(waiter)

    def _follow(self) -> None:
        watch = self.store.watch_events()
        try:
            while not self._stop.is_set():
                watch.wait(self._poll)
                if self._stop.is_set():
                    return
                try:
                    self._read_once()
                except BatchyardError as exc:
                    log.warning("reading events failed, trying again: %s", exc)
                except Exception:  # the reader must outlive anything: every stream depends on it
                    log.exception("reading events failed, trying again")
                self._stop.wait(MIN_READ_GAP)
        finally:
            watch.close()

    def _read_once(self) -> None:
        batch = self.store.events(None, after=self._head, limit=READ_BATCH)
        self.reads += 1
        ready = self._contiguous(batch, now=time.monotonic())
        if not ready:
            return
        with self._lock:
            self._recent.extend(ready)
            self._head = ready[-1].id
            waiters = list(self._waiters)
        for loop, event in waiters:
            _wake(loop, event.set)

    def _contiguous(self, batch: list[Event], *, now: float) -> list[Event]:
        """The events that can be handed out: those up to the first gap, or past a gap that lasted too long."""
        ready: list[Event] = []
        expected = self._head + 1
        for event in batch:
            if event.id != expected:
                if self._gap_since is None:
                    self._gap_since = now
                if now - self._gap_since < self._gap_wait:
                    break
            self._gap_since = None
            ready.append(event)
            expected = event.id + 1
        return ready


def _wake(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    with suppress(RuntimeError):  # the loop has closed: nobody waits there any more
        loop.call_soon_threadsafe(callback)
