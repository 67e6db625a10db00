"""Job types whose items hang, for tests that run real worker subprocesses
(``--app tests.support.hung_apps:yard``).

An item ``>= 0`` returns at once. Item ``-1`` hangs until interrupted; item ``-2`` hangs and ignores every
interruption, as code that catches ``BaseException`` would. Both touch ``BATCHYARD_TEST_MARKER`` when they
start hanging, so a test knows the hang has begun.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from batchyard import Context, Yard

yard = Yard()

GIVES_WAY, STUBBORN = -1, -2


@yard.job("hang", chunk_size=2, max_attempts=1000)
def hang(item: int, ctx: Context) -> int:
    if item >= 0:
        return item
    Path(os.environ["BATCHYARD_TEST_MARKER"]).touch()
    while True:
        try:
            time.sleep(3600)
        except BaseException:
            if item == GIVES_WAY:
                raise
