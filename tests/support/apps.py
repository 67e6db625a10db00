"""Job types used by tests that run real worker subprocesses (``--app tests.support.apps:yard``).

The database comes from ``BATCHYARD_DATABASE_URL``; behaviour is steered by item values so that one module
serves every scenario.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from batchyard import Context, Yard

yard = Yard()


@yard.job("slow_square", chunk_size=20, max_attempts=1000)
def slow_square(item: int, ctx: Context) -> int:
    """Squares, slowly enough that a kill lands in the middle of chunks."""
    time.sleep(float(os.environ.get("BATCHYARD_TEST_ITEM_SECONDS", "0.002")))
    return item * item


class Ledger:
    """Writes each item once into ``test_effects`` inside the chunk's commit: duplicates would show a
    chunk committed twice."""

    def process(self, item: int, ctx: Context) -> dict[str, Any]:
        time.sleep(float(os.environ.get("BATCHYARD_TEST_ITEM_SECONDS", "0.002")))
        return {"item": item, "square": item * item}

    def write(self, outputs: list[dict[str, Any]], ctx: Context) -> None:
        ctx.connection.execute(
            text("INSERT INTO test_effects (job_id, item, square) VALUES (:job, :item, :square)"),
            [{"job": ctx.job_id, **o} for o in outputs],
        )


yard.job("ledger", chunk_size=10, max_attempts=1000)(Ledger)


class StallingLedger(Ledger):
    """A ledger whose first ``write`` stalls inside the commit transaction: it creates ``stalled`` in
    ``BATCHYARD_TEST_STALL_DIR``, then waits while ``hold`` exists there, so a test can freeze the worker
    mid-transaction. Later writes (the chunk redone elsewhere) go straight through."""

    def write(self, outputs: list[dict[str, Any]], ctx: Context) -> None:
        stall_dir = Path(os.environ["BATCHYARD_TEST_STALL_DIR"])
        marker = stall_dir / "stalled"
        if not marker.exists():
            marker.touch()
            while (stall_dir / "hold").exists():
                time.sleep(0.05)
        super().write(outputs, ctx)


yard.job("stalling_ledger", chunk_size=10, max_attempts=1000)(StallingLedger)
