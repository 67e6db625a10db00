"""The job types the engine benchmark runs: a no-op per item, so the engine's own cost is what is measured.

One type per chunk size measured (``noop`` is 1,000 items a chunk, ``noop_<n>`` is ``n``). The built-in
``images`` type is kept as shipped but for its per-user rate limits: the benchmark submits more than 5 an hour.
"""

from __future__ import annotations

from batchyard import Context, Yard
from batchyard.jobs.images.job import images_job_type

yard = Yard()
CHUNK_SIZES = (1, 10, 50, 1000)


def noop(item: int, ctx: Context) -> int:
    return item


def type_for(chunk_size: int) -> str:
    return "noop" if chunk_size == 1000 else f"noop_{chunk_size}"


for _size in CHUNK_SIZES:
    yard.job(type_for(_size), chunk_size=_size)(noop)

yard.registry.add(images_job_type(jobs_per_hour=None, jobs_per_day=None))
