"""A slow source for worker subprocesses (``--app tests.support.planning_apps:yard``): planning takes long
enough that a test can kill or stop the worker planning it midway."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from pydantic import BaseModel

from batchyard import Context, Yard

yard = Yard()


class SlowNumbers:
    """Items 0..n-1, the same ones in the same order on every enumeration (what a takeover relies on)."""

    class Params(BaseModel):
        n: int

    def source(self, params: Params) -> Iterator[int]:
        pause = float(os.environ.get("BATCHYARD_TEST_SOURCE_SECONDS", "0.02"))
        for i in range(params.n):
            time.sleep(pause)
            yield i

    def process(self, item: int, ctx: Context) -> int:
        return item * 3


yard.job("slow_numbers", chunk_size=10)(SlowNumbers)
