"""How long chunks take, for Prometheus, across the processes of one ``batchyard serve`` tree.

Workers are processes of their own, so the histogram uses prometheus_client's multiprocess mode: each worker
writes its observations to files in ``PROMETHEUS_MULTIPROC_DIR`` and ``GET /metrics`` adds them all up.
``batchyard serve`` points that variable at a fresh directory under the data directory for its tree; workers
started elsewhere report here only when they share such a directory (otherwise they observe nothing).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, Histogram, multiprocess

log = logging.getLogger("batchyard.metrics")

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
CHUNK_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

ChunkObserver = Callable[[str, float], None]


def share_metrics(data_dir: Path) -> None:
    """Give this process and the workers it starts a fresh directory to pool their metrics in (unless one was
    set already): files left by an earlier run would be counted again."""
    if os.environ.get(MULTIPROCESS_DIR):
        return
    root = data_dir / "metrics"
    for earlier in root.glob("*"):  # a tree's directory is named by its pid: those of trees gone are removed
        if not earlier.name.isdigit() or not _alive(int(earlier.name)):
            shutil.rmtree(earlier, ignore_errors=True)
    directory = root / str(os.getpid())
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[MULTIPROCESS_DIR] = str(directory)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def chunk_observer() -> ChunkObserver | None:
    """Records each committed chunk's duration by job type, or None when no shared directory is set."""
    if not os.environ.get(MULTIPROCESS_DIR):
        return None
    histogram = Histogram(
        "batchyard_chunk_duration_seconds",
        "Seconds from a chunk's first item to its commit, by job type",
        ["type"],
        buckets=CHUNK_SECONDS_BUCKETS,
        registry=None,
    )

    def observe(job_type: str, seconds: float) -> None:
        histogram.labels(job_type).observe(seconds)

    return observe


def add_shared_metrics(registry: CollectorRegistry) -> None:
    """The workers' pooled metrics, when this process shares a directory with them."""
    if os.environ.get(MULTIPROCESS_DIR):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
