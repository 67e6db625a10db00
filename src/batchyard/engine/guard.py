"""Stopping the item in hand from another thread: at its deadline (``timeout``), or when it will not give way.

The heartbeat thread watches; the thread running items is interrupted by raising an exception in it. On the
main thread that is a signal whose handler raises, so even a blocking ``time.sleep`` is cut short. On any
other thread nothing is raised (see ``ThreadGuard``): a late item fails as timed out when it returns.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType
from typing import Any

from batchyard.core.context import Context

INTERRUPT_SIGNAL = signal.SIGUSR1
log = logging.getLogger("batchyard.worker")


class Interruption(BaseException):
    """Raised in a job's code by the worker. A BaseException, so that ``except Exception`` does not swallow it."""


class ItemInterrupted(Interruption):
    """The item was told to stop (cancel, pause, shutdown, lost lease) and did not return within the grace."""


class ItemOverdue(Interruption):
    """The item ran past its deadline; the runner reports it as ``ItemTimedOut``."""


class ItemGuard:
    """What the item thread is doing, as the heartbeat thread needs to know it to interrupt the right item.

    ``ctx`` is the context whose items run now (None between chunks, and while committing); ``deadline`` is the
    monotonic time by which the item in hand must return (None without a timeout).
    """

    def __init__(self) -> None:
        self.ident = threading.get_ident()
        self.ctx: Context | None = None
        self.deadline: float | None = None

    def enter(self, ctx: Context) -> None:
        self.ctx = ctx

    def leave(self) -> None:
        self.ctx = None

    def arm(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def disarm(self) -> None:
        self.deadline = None

    def runs(self, ctx: Context) -> bool:
        return self.ctx is ctx

    def overdue(self, now: float) -> bool:
        deadline = self.deadline
        return self.ctx is not None and deadline is not None and now >= deadline

    # called from the heartbeat thread
    def poke(self, now: float) -> None:
        """Interrupt the item in hand if it is past its deadline."""

    def interrupt(self, ctx: Context) -> None:
        """Interrupt the item in hand if it belongs to ``ctx``."""

    def install(self) -> None:
        """Prepare the item thread to be interrupted (called on that thread)."""

    def uninstall(self) -> None:
        """Undo ``install``."""


class MainThreadGuard(ItemGuard):
    """Items on the main thread: a signal, whose handler runs on that thread and decides there what to raise.

    The handler reads state that only the main thread writes, so it raises exactly when an item is in hand;
    a signal that arrives between items does nothing (and takes no lock, which a handler must never do).
    """

    def __init__(self) -> None:
        super().__init__()
        self._stop_ctx: Context | None = None
        self._previous: Any = None

    def install(self) -> None:
        self._previous = signal.signal(INTERRUPT_SIGNAL, self._on_signal)

    def uninstall(self) -> None:
        signal.signal(INTERRUPT_SIGNAL, self._previous or signal.SIG_DFL)

    def poke(self, now: float) -> None:
        if self.overdue(now):
            signal.pthread_kill(self.ident, INTERRUPT_SIGNAL)

    def interrupt(self, ctx: Context) -> None:
        self._stop_ctx = ctx
        if self.runs(ctx):
            signal.pthread_kill(self.ident, INTERRUPT_SIGNAL)

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        if self.overdue(time.monotonic()):
            raise ItemOverdue
        if self.ctx is not None and self.ctx is self._stop_ctx:
            raise ItemInterrupted


class ThreadGuard(ItemGuard):
    """Items on another thread cannot be interrupted safely: an asynchronous exception
    (``PyThreadState_SetAsyncExc``) can land inside a tracer or a library's cleanup and wedge the thread (seen
    under coverage). So nothing is raised: an item past its deadline fails as timed out when it returns (see
    ``runner``), and an item that will not stop is given up by the heartbeat, its chunk left to expire."""

    def arm(self, seconds: float) -> None:
        super().arm(seconds)
        global _warned_unguarded  # noqa: PLW0603 - one warning per process is the point
        if not _warned_unguarded:
            _warned_unguarded = True
            log.warning(
                "items run on a thread other than the main one: a timeout fails an item when it returns late, "
                "but cannot cut it short"
            )


_warned_unguarded = False


def guard_for_this_thread() -> ItemGuard:
    """The guard for items that run on the calling thread."""
    if threading.current_thread() is threading.main_thread():
        return MainThreadGuard()
    return ThreadGuard()
