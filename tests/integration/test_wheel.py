"""A wheel built for release carries the built dashboard, so `pip install batchyard` serves it without Node."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from batchyard.api.dashboard import BUILT

REPO = Path(__file__).parents[2]
pytestmark = pytest.mark.slow


def test_the_wheel_carries_the_built_dashboard(tmp_path: Path) -> None:
    assert (BUILT / "index.html").is_file(), "the dashboard is not built: `make frontend`"
    uv = shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")
    subprocess.run([uv, "build", "--wheel", "--out-dir", str(tmp_path), str(REPO)], check=True, capture_output=True)
    [wheel] = tmp_path.glob("batchyard-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "batchyard/api/dashboard/index.html" in names
    scripts = [n for n in names if n.startswith("batchyard/api/dashboard/assets/") and n.endswith(".js")]
    assert scripts, names
    built = {p.relative_to(BUILT).as_posix() for p in BUILT.rglob("*") if p.is_file()}
    assert {n.removeprefix("batchyard/api/dashboard/") for n in names if "/api/dashboard/" in n} == built
