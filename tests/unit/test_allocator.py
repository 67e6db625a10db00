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


COLLECTOR_PROBE = """
import gc, json
from batchyard.engine.allocator import collect_less
before = gc.get_freeze_count()
collect_less(12_345)
print(json.dumps({"frozen": gc.get_freeze_count() - before, "threshold": gc.get_threshold()[0]}))
"""


def test_a_worker_collects_garbage_less_often_and_never_over_what_start_up_made() -> None:
    out = subprocess.run([sys.executable, "-c", COLLECTOR_PROBE], capture_output=True, text=True, check=True)
    found = json.loads(out.stdout)
    assert found["threshold"] == 12_345
    assert found["frozen"] > 10_000  # the modules' objects, out of the collector's sight


START_UP_PROBE = """
import json
import batchyard.cli  # everything a worker process imports
from batchyard.service import auth
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"peak_kib": peak}))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_starting_a_worker_hashes_no_password() -> None:
    """An argon2 hash takes 64 MiB; made at import it raised every worker's peak memory by that much."""
    out = subprocess.run([sys.executable, "-c", START_UP_PROBE], capture_output=True, text=True, check=True)
    found = json.loads(out.stdout)
    assert found["peak_kib"] < 64 * 1024 + 60 * 1024, found  # well under what one hash alone would add
