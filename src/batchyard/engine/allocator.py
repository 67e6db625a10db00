"""A worker process keeps the memory of large buffers it frees, instead of giving it back to the system after
every item and faulting it in again, page by page, for the next one.

glibc hands allocations over 128 KiB (rising as it sees them freed, up to 32 MiB) to ``mmap`` and returns them
on ``free``, and trims the top of its heap past twice that; an image job allocates and frees buffers of tens of
megabytes for every item, so each one costs thousands of page faults (about a quarter of a worker's CPU on 2 MP
photos, measured in decision 0024). Fixed thresholds keep buffers up to ``mmap_bytes`` on the heap and let up
to ``trim_bytes`` of it stay free for the next item.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import sys

log = logging.getLogger("batchyard.worker")

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
MMAP_BYTES = 64 * 1024 * 1024
TRIM_BYTES = 128 * 1024 * 1024
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")  # set by hand: left alone
YOUNG_OBJECTS = 50_000
"""New containers between two runs of the cyclic collector in a worker (Python's default is 700)."""


def keep_large_buffers(mmap_bytes: int = MMAP_BYTES, trim_bytes: int = TRIM_BYTES) -> bool:
    """Set glibc's thresholds in this process; False where there is no glibc (macOS, musl) or they were set
    in the environment already."""
    if sys.platform != "linux" or _set_by_hand():
        return False
    mallopt = _mallopt()
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, mmap_bytes)) and bool(mallopt(M_TRIM_THRESHOLD, trim_bytes))


def collect_less(young_objects: int = YOUNG_OBJECTS) -> None:
    """Let the cyclic collector run less often in a worker, and never over what start-up made.

    By default it runs after every 700 new containers and then visits every young one; an import makes a list,
    a dict and a model instance per row, so a worker spent about half its time collecting garbage that
    reference counting frees anyway (measured in ``bench/io.py``). What exists once the app is loaded (modules,
    the yard) is frozen out of its sight for good."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_objects, middle, old)


def _set_by_hand() -> bool:
    """An operator's own malloc settings win: the old variables, or glibc's tunables (``glibc.malloc.*``)."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    return any(name in os.environ for name in USER_SETTINGS) or "glibc.malloc." in tunables


def _mallopt() -> ctypes._NamedFuncPointer | None:
    name = ctypes.util.find_library("c")
    if name is None or not name.startswith("libc.so"):
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 - glibc's own function: musl's mallopt does nothing
    except (OSError, AttributeError):
        return None
    mallopt = libc.mallopt
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt
