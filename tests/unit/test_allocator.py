"""A worker process keeps freed large buffers for the next item: the second buffer of the same size costs
almost no page faults. Each case runs in a fresh process, as a worker is one."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, resource, sys
from batchyard.engine.allocator import keep_large_buffers
applied = keep_large_buffers() if sys.argv[1] == "tuned" else False
faults = []
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    buffer = bytearray(32 * 1024 * 1024)  # zeroed: every page touched
    del buffer
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"applied": applied, "faults": faults}))
"""


def _probe(mode: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", PROBE, mode], env=env, capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(out.stdout)
    return result


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's allocator: Linux only")
def test_a_tuned_worker_reuses_a_freed_32_mib_buffer_without_faulting_it_in_again() -> None:
    tuned, plain = _probe("tuned"), _probe("plain")
    assert tuned["applied"] is True
    pages = 32 * 1024 * 1024 // os.sysconf("SC_PAGE_SIZE")
    assert all(f > pages // 2 for f in plain["faults"]), plain  # type: ignore[attr-defined]
    assert all(f < pages // 10 for f in tuned["faults"][1:]), tuned  # type: ignore[index]


@pytest.mark.parametrize(
    ("name", "value"),
    [("MALLOC_TRIM_THRESHOLD_", "1000"), ("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=4096")],
)
def test_settings_made_by_hand_are_left_alone(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    from batchyard.engine.allocator import keep_large_buffers

    monkeypatch.setenv(name, value)
    assert keep_large_buffers() is False
