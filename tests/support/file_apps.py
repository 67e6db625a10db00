"""A job type whose items each save an output file of 512 KiB of incompressible bytes: archives of any size,
made fast, for the streamed ZIP tests."""

from __future__ import annotations

import random

from batchyard import Context, Yard

yard = Yard()
OUTPUT_BYTES = 512 * 1024


@yard.job("blobs", chunk_size=10, max_items=1000)
def save_blob(item: int, ctx: Context) -> int:
    data = random.Random(item).randbytes(OUTPUT_BYTES)
    ctx.save_output(f"文件_{item % 150}.bin", data, "application/octet-stream")  # names repeat: numbered in a ZIP
    return item
