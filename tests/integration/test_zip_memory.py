"""A ZIP of 200 outputs (100 MiB) streamed from a real `batchyard serve` while its API process's resident memory
stays flat: the archive is made as it is read, never held whole."""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path

import pytest

from tests.integration.images_server import API, images_server

pytestmark = pytest.mark.slow


def resident_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_a_zip_of_200_outputs_streams_with_flat_memory(tmp_path: Path) -> None:
    with images_server(f"sqlite:///{tmp_path}/zip.db", tmp_path, app="tests.support.file_apps:yard") as server:
        alice = server.user()
        job = alice.http.post(f"{API}/jobs", json={"type": "blobs", "items": list(range(200))}).json()
        assert alice.finished(job["id"], timeout=120)["succeeded"] == 200
        before = resident_bytes(server.pid)
        peak, stop = [before], threading.Event()

        def watch() -> None:
            while not stop.wait(0.005):
                peak.append(resident_bytes(server.pid))

        watcher = threading.Thread(target=watch)
        watcher.start()
        target = tmp_path / "batch.zip"
        try:
            with alice.http.stream("GET", f"{API}/jobs/{job['id']}/download.zip") as response, target.open("wb") as out:
                assert response.status_code == 200
                for piece in response.iter_bytes():
                    out.write(piece)
        finally:
            stop.set()
            watcher.join()
        archive = zipfile.ZipFile(target)
        assert archive.testzip() is None
        names = archive.namelist()
        assert len(names) == len(set(names)) == 200
        assert "文件_0.bin" in names and "文件_0 (2).bin" in names  # noqa: PT018 - one naming rule
        size = target.stat().st_size
        growth = max(peak) - before
        print(
            f"ZIP of {size / 2**20:.0f} MiB: API resident memory {before / 2**20:.0f} MiB before, "
            f"+{growth / 2**20:.1f} MiB at most while streaming ({len(peak)} samples)"
        )
        assert size > 100 * 2**20
        assert growth < 24 * 2**20, f"the API grew by {growth / 2**20:.1f} MiB for a {size / 2**20:.0f} MiB archive"
