"""The HTTP API under load, each figure beside a reference measured in the same run.

A real ``batchyard serve`` (the API and 2 worker processes) on SQLite and on PostgreSQL, one run each:
- submit latency, p50 and p99, of 50-item jobs (chunk 10) from 20 concurrent clients each sending a job every
  second, then three a second (an open loop: the latency a user sees at that load), and from 20 clients each
  sending its next job as soon as the last is answered (a closed loop: how many submits/s the server takes;
  its latency is ``20 / throughput`` by Little's law); the same from one client alone; and the API process's
  CPU time per submit beside its CPU time per ``GET /health`` (what a request costs the one process that
  answers, whatever the machine does meanwhile);
- ``GET /jobs/{id}`` requests/s from 20 concurrent clients, beside ``GET /health`` (the framework and its
  database ping: the least a request costs here);
- the delay from a job's end (its ``finished_at``, written in the finishing commit) to its ``finished`` event
  reaching an SSE client, p50 and p99 over 20 jobs;
- files (``bench/files.py``): 50 photos of 2 MP through the ``images`` job beside a plain loop of the same
  processing, and the streamed ZIP beside ``zipfile`` writing to disk.

Usage: python bench/api.py [--pg URL] [--only sqlite|postgresql] [--clients 20] [--jobs-per-client 10]
       [--paced 1 3] [--paced-seconds 20] [--no-files]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx

import files
import harness
from batchyard import Yard
from batchyard.core.users import Role
from batchyard.service.auth import AuthService

HERE = Path(__file__).resolve().parent
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serve(url: str) -> Iterator[tuple[str, str, int]]:
    """A server on a free port and a token with quota enough for the run."""
    yard = Yard(url)
    token = AuthService(yard.store).create_user("bench", role=Role.OPERATOR, quota=10**9)[1].secret
    yard.close()
    port = free_port()
    data = tempfile.mkdtemp(prefix="batchyard-bench-")
    env = dict(os.environ, BATCHYARD_DATABASE_URL=url, PYTHONPATH=str(HERE), BATCHYARD_DATA_DIR=data)
    command = [sys.executable, "-m", "batchyard", "serve", "--app", "noop_app:yard", "--port", str(port)]
    proc = subprocess.Popen([*command, "--workers", "2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 60
        while not _answers(base):
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        yield base, token, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def in_parallel(clients: int, work: Callable[[httpx.Client], list[float]], base: str, token: str) -> list[float]:
    results: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def run() -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            start.wait()
            found = work(http)
        with lock:
            results.extend(found)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def submit_latencies(base: str, token: str, clients: int, per_client: int) -> tuple[list[float], float]:
    def work(http: httpx.Client) -> list[float]:
        times = []
        for _ in range(per_client):
            began = time.perf_counter()
            response = http.post("/jobs", json={"type": "noop_10", "items": list(range(50))})
            times.append(time.perf_counter() - began)
            assert response.status_code == 202, response.text
        return times

    began = time.perf_counter()
    latencies = in_parallel(clients, work, base, token)
    return latencies, len(latencies) / (time.perf_counter() - began)


def paced_submit_latencies(base: str, token: str, clients: int, per_second: float, seconds: float) -> list[float]:
    """Submit latency when each client sends a job every ``1/per_second`` seconds (an open loop).

    Each client starts at its own phase of the interval; a latency is counted from when the request was due,
    not from when it went out, so a client held up by a slow answer does not hide the wait (no coordinated
    omission). This is the latency a user sees at that offered load; the closed loop above measures how many
    submits the server can take, where latency is only ``clients / throughput`` (Little's law).
    """
    interval = 1 / per_second
    origin = time.perf_counter() + 0.5
    phases = iter(range(clients))
    phase_lock = threading.Lock()

    def work(http: httpx.Client) -> list[float]:
        with phase_lock:
            phase = next(phases) * interval / clients
        times = []
        due = origin + phase
        while due < origin + seconds:
            time.sleep(max(0.0, due - time.perf_counter()))
            response = http.post("/jobs", json={"type": "noop_10", "items": list(range(50))})
            times.append(time.perf_counter() - due)
            assert response.status_code == 202, response.text
            due += interval
        return times

    return in_parallel(clients, work, base, token)


def health_latencies(base: str, token: str, clients: int, per_client: int) -> list[float]:
    """The floor under any request's latency: ``GET /health`` from as many clients, as many times."""

    def work(http: httpx.Client) -> list[float]:
        times = []
        for _ in range(per_client):
            began = time.perf_counter()
            http.get("/health").raise_for_status()
            times.append(time.perf_counter() - began)
        return times

    return in_parallel(clients, work, base, token)


def requests_per_second(base: str, token: str, clients: int, path: str, seconds: float = 3.0) -> float:
    def work(http: httpx.Client) -> list[float]:
        count, stop = 0, time.perf_counter() + seconds
        while time.perf_counter() < stop:
            assert http.get(path).status_code == 200
            count += 1
        return [float(count)]

    return sum(in_parallel(clients, work, base, token)) / seconds


def event_delays(base: str, token: str, jobs: int = 20) -> list[float]:
    """Seconds from a job's finished_at to its finished event arriving over SSE (same machine, same clock)."""
    delays = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        for _ in range(jobs):
            job = http.post("/jobs", json={"type": "noop_10", "items": list(range(50))}).json()
            with http.stream("GET", f"/jobs/{job['id']}/events") as stream:
                for line in stream.iter_lines():
                    if line.startswith("data:") and json.loads(line[5:])["kind"] == "finished":
                        arrived = time.time()
                        break
            finished = datetime.fromisoformat(http.get(f"/jobs/{job['id']}").json()["finished_at"]).timestamp()
            delays.append(arrived - finished)
    return delays


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(name: str, url: str, args: argparse.Namespace) -> None:
    with serve(url) as (base, token, pid):
        alone, _ = submit_latencies(base, token, 1, 100)
        print(
            f"{name}: submit of 50-item jobs, 1 client: p50 {pct(alone, 0.5) * 1000:.1f} ms, "
            f"p99 {pct(alone, 0.99) * 1000:.1f} ms"
        )
        cpu_before = cpu_seconds(pid)
        latencies, rate = submit_latencies(base, token, args.clients, args.jobs_per_client)
        submit_cpu = (cpu_seconds(pid) - cpu_before) / len(latencies)
        floor = health_latencies(base, token, args.clients, args.jobs_per_client)
        for per_second in args.paced:
            paced = paced_submit_latencies(base, token, args.clients, per_second, args.paced_seconds)
            print(
                f"{name}: submit of 50-item jobs, {args.clients} clients each sending {per_second:g} a second "
                f"({args.clients * per_second:g} jobs/s offered): p50 {pct(paced, 0.5) * 1000:.1f} ms, "
                f"p99 {pct(paced, 0.99) * 1000:.1f} ms over {len(paced)} submits"
            )
        print(
            f"{name}: submit of 50-item jobs, {args.clients} clients: p50 {pct(latencies, 0.5) * 1000:.1f} ms, "
            f"p99 {pct(latencies, 0.99) * 1000:.1f} ms, {rate:,.0f} jobs/s   reference GET /health, as many "
            f"clients: p50 {pct(floor, 0.5) * 1000:.1f} ms, p99 {pct(floor, 0.99) * 1000:.1f} ms"
        )
        any_job = httpx.get(f"{base}/jobs?limit=1", headers={"Authorization": f"Bearer {token}"}).json()["jobs"][0]
        cpu_before, began = cpu_seconds(pid), time.perf_counter()
        health = requests_per_second(base, token, args.clients, "/health")
        health_cpu = (cpu_seconds(pid) - cpu_before) / (health * (time.perf_counter() - began))
        print(
            f"{name}: API process CPU per submit {submit_cpu * 1000:.1f} ms   reference per GET /health "
            f"{health_cpu * 1000:.1f} ms   ratio {submit_cpu / health_cpu:.1f}x"
        )
        gets = requests_per_second(base, token, args.clients, f"/jobs/{any_job['id']}")
        print(
            f"{name}: GET /jobs/{{id}} {gets:,.0f} req/s   reference GET /health {health:,.0f} req/s   "
            f"ratio {gets / health:.2f}x"
        )
        if args.files:
            files.measure(name, base, token)
        delays = event_delays(base, token)
        print(
            f"{name}: SSE delay from a job's end to its finished event: p50 {statistics.median(delays) * 1000:.0f} ms, "
            f"p99 {pct(delays, 0.99) * 1000:.0f} ms (max {max(delays) * 1000:.0f} ms)"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", default=os.environ.get("BATCHYARD_BENCH_PG", DEFAULT_PG))
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--jobs-per-client", type=int, default=10)
    parser.add_argument("--paced", type=float, nargs="*", default=[1.0, 3.0], help="jobs a second per client")
    parser.add_argument("--paced-seconds", type=float, default=20.0)
    parser.add_argument("--no-files", dest="files", action="store_false", help="skip the images and ZIP figures")
    args = parser.parse_args()
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            measure("SQLite", f"sqlite:///{tmp}/api.db", args)
    if args.only != "sqlite":
        print(f"PostgreSQL server version measured: {harness.postgres_version(args.pg)}")
        with harness.scratch_postgres(args.pg, "api") as url:
            measure("PostgreSQL", url, args)


if __name__ == "__main__":
    main()
