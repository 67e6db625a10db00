"""Files through the service, each beside a reference measured in the same run:

- 50 photos of 2 megapixels, generated, processed by the ``images`` job with 2 workers (submit to finished),
  beside the same processing (``process_image``) in a plain loop in this one process;
- the job's ZIP streamed over HTTP, beside ``zipfile`` writing the same files to disk.
"""

from __future__ import annotations

import io
import random
import tempfile
import time
import zipfile
from functools import cache
from typing import Any

import httpx
from PIL import Image, ImageDraw, ImageFilter

from batchyard.jobs.images import ImageParams, process_image

PHOTOS = 50
SIZE = (1632, 1224)  # 2.0 megapixels
PARAMS: dict[str, Any] = {"contrast": 1.2, "sharpness": 1.5, "brightness": 1.05, "format": "jpeg", "quality": 90}


@cache
def photos() -> list[bytes]:
    """Photo-like JPEGs: shaded shapes with some grain, each different."""
    made = []
    for seed in range(PHOTOS):
        rng = random.Random(seed)
        image = Image.linear_gradient("L").resize(SIZE).convert("RGB")
        draw = ImageDraw.Draw(image)
        for _ in range(12):
            x, y = rng.randrange(SIZE[0]), rng.randrange(SIZE[1])
            colour = tuple(rng.randrange(256) for _ in range(3))
            draw.ellipse((x, y, x + rng.randrange(100, 600), y + rng.randrange(100, 600)), fill=colour)
        grain = Image.effect_noise(SIZE, 12).convert("RGB")
        image = Image.blend(image.filter(ImageFilter.GaussianBlur(2)), grain, 0.08)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=90)
        made.append(out.getvalue())
    return made


def plain_loop_seconds() -> float:
    params = ImageParams(**PARAMS)
    made = photos()  # made before the clock starts
    began = time.perf_counter()
    for data in made:
        process_image(io.BytesIO(data), params)
    return time.perf_counter() - began


def service_seconds(base: str, token: str) -> tuple[float, float, int]:
    """Upload time, then submit-to-finished time, of the 50 photos; and the job's id."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=300) as http:
        files = [("files", (f"photo_{i}.jpg", data, "image/jpeg")) for i, data in enumerate(photos())]
        began = time.perf_counter()
        uploaded = http.post("/uploads", files=files, params={"job_type": "images"})
        upload_seconds = time.perf_counter() - began
        uploaded.raise_for_status()
        ids = [u["id"] for u in uploaded.json()["uploads"]]
        began = time.perf_counter()
        job = http.post("/jobs", json={"type": "images", "upload_ids": ids, "params": PARAMS}).json()
        while (state := http.get(f"/jobs/{job['id']}").json())["status"] not in ("succeeded", "failed"):
            time.sleep(0.05)  # a watcher's pace: polling faster takes CPU from the workers measured
        assert state["succeeded"] == PHOTOS, state
        return upload_seconds, time.perf_counter() - began, int(job["id"])


def zip_rates(base: str, token: str, job_id: int) -> tuple[float, float, int]:
    """MB/s of the streamed ZIP over HTTP, and of ``zipfile`` writing the same files to disk; the ZIP's bytes."""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=300) as http:
        began = time.perf_counter()
        body = http.get(f"/jobs/{job_id}/download.zip").content
        streamed = time.perf_counter() - began
    entries = [
        (name, zipfile.ZipFile(io.BytesIO(body)).read(name)) for name in zipfile.ZipFile(io.BytesIO(body)).namelist()
    ]
    with tempfile.TemporaryFile() as disk:
        began = time.perf_counter()
        with zipfile.ZipFile(disk, "w", zipfile.ZIP_STORED) as archive:
            for name, data in entries:
                archive.writestr(name, data)
        written = time.perf_counter() - began
    megabytes = len(body) / 1e6
    return megabytes / streamed, megabytes / written, len(body)


def health_while_batches_run(base: str, token: str, jobs: int = 5) -> tuple[float, float]:
    """p50 and p99 (ms) of ``GET /health`` from one client while ``jobs`` image batches of 50 photos run (the
    task card: "5 batch jobs at once do not affect the server's answers"); beside it, the same when idle."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=300) as http:
        files = [("files", (f"photo_{i}.jpg", data, "image/jpeg")) for i, data in enumerate(photos())]
        ids = [u["id"] for u in http.post("/uploads", files=files, params={"job_type": "images"}).json()["uploads"]]
        started = [
            http.post("/jobs", json={"type": "images", "upload_ids": ids, "params": PARAMS}).json() for _ in range(jobs)
        ]
        busy = []
        while any(http.get(f"/jobs/{j['id']}").json()["status"] not in ("succeeded", "failed") for j in started):
            began = time.perf_counter()
            http.get("/health").raise_for_status()
            busy.append(time.perf_counter() - began)
            time.sleep(0.02)
    return p50_p99_ms(busy)


def idle_health(base: str, count: int = 200) -> tuple[float, float]:
    times = []
    with httpx.Client(base_url=base, timeout=60) as http:
        for _ in range(count):
            began = time.perf_counter()
            http.get("/health").raise_for_status()
            times.append(time.perf_counter() - began)
            time.sleep(0.005)
    return p50_p99_ms(times)


def p50_p99_ms(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    return ordered[len(ordered) // 2] * 1000, ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000


def measure(name: str, base: str, token: str, runs: int = 2) -> None:
    """Best of ``runs`` for both, alternating, so that neither gets the machine's quieter moments alone."""
    loops, services = [], []
    for _ in range(runs):
        loops.append(plain_loop_seconds())
        services.append(service_seconds(base, token))
    loop = min(loops)
    upload, service, job_id = min(services, key=lambda s: s[1])
    print(
        f"{name}: {PHOTOS} photos of 2 MP through the images job with 2 workers: {service:.2f} s "
        f"(upload {upload:.2f} s)   reference plain loop in one process {loop:.2f} s   ratio {loop / service:.2f}x"
    )
    idle50, idle99 = idle_health(base)
    busy50, busy99 = health_while_batches_run(base, token)
    print(
        f"{name}: GET /health while 5 image batches of 50 run: p50 {busy50:.1f} ms, p99 {busy99:.1f} ms   "
        f"reference idle: p50 {idle50:.1f} ms, p99 {idle99:.1f} ms"
    )
    streamed, written, size = zip_rates(base, token, job_id)
    print(
        f"{name}: ZIP of the outputs ({size / 1e6:.1f} MB) streamed over HTTP {streamed:.0f} MB/s   reference "
        f"zipfile to disk {written:.0f} MB/s   ratio {streamed / written:.2f}x"
    )
