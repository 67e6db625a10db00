"""The job type the engine benchmark runs: a no-op per item, so the engine's own cost is what is measured."""

from __future__ import annotations

from batchyard import Context, Yard

yard = Yard()


@yard.job("noop", chunk_size=1000)
def noop(item: int, ctx: Context) -> int:
    return item
