"""The job types the engine benchmark runs: a no-op per item, so the engine's own cost is what is measured.

One type per chunk size measured (``noop`` is 1,000 items a chunk, ``noop_<n>`` is ``n``).
"""

from __future__ import annotations

from batchyard import Context, Yard

yard = Yard()
CHUNK_SIZES = (1, 10, 50, 1000)


def noop(item: int, ctx: Context) -> int:
    return item


def type_for(chunk_size: int) -> str:
    return "noop" if chunk_size == 1000 else f"noop_{chunk_size}"


for _size in CHUNK_SIZES:
    yard.job(type_for(_size), chunk_size=_size)(noop)
