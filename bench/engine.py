"""Engine throughput and per-chunk cost, each figure beside a floor measured in the same run.

With 2 warm ``batchyard worker`` subprocesses, on SQLite and PostgreSQL (best of --runs):
- items/s for 200,000 no-op items at chunk 1,000, submit -> done;
- chunks/s at chunk 1 (3,000 items) and chunk 10 (20,000 items), submit -> done;
- the claim cost: chunks/s over the first 1,000 chunks of a job with 2,000 vs 20,000 pending chunks (chunk 50),
  the job stored whole before the workers see it, so only claims and commits are timed;
and the floors (bench/floors.py): raw sqlite3 / psycopg on batchyard's own layout, the per-item-row design, and
a ProcessPoolExecutor(2). With --memory, peak RSS for 200k versus 2M items.

Usage: python bench/engine.py [--items 200000] [--runs 3] [--pg URL] [--memory] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

import floors  # the bench directory is the script's own, first on sys.path
import harness

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
REFERENCES: dict[str, float] = {}
SMALL_CHUNKS = ((1, 3_000), (10, 20_000))  # (chunk size, items)
CLAIM_CHUNK, CLAIM_PENDING, CLAIM_FIRST = 50, (2_000, 20_000), 1_000


def best(runs: int, measure: Callable[[], float]) -> float:
    return max(measure() for _ in range(runs))


def interleaved(runs: int, measure: Callable[..., float]) -> dict[int, float]:
    """Best of ``runs`` for each job size, the sizes taken in turn so that a change of load hits both alike."""
    rates = dict.fromkeys(CLAIM_PENDING, 0.0)
    for _ in range(runs):
        for pending in CLAIM_PENDING:
            rates[pending] = max(rates[pending], measure(pending))
    return rates


def measure_database(name: str, url: str, raw_url: str, args: argparse.Namespace) -> None:
    n, runs = args.items, args.runs
    with harness.bench(url) as b:
        rate = best(runs, lambda: n / b.run(n, 1000))
        floor = best(runs, lambda: floors.layout_floor(raw_url, n, 1000) * 1000)
        _line(f"{name}: items/s, chunk 1,000, {n:,} items", rate, floor, "items/s")
        print(
            f"{'':<50} vs per-item rows {rate / REFERENCES['item_rows']:.2f}x, vs process pool "
            f"{rate / REFERENCES['pool']:.2f}x"
        )
        for size, items in SMALL_CHUNKS:
            r = best(runs, partial(_chunks_per_second, b, items, size))
            f = best(runs, partial(floors.layout_floor, raw_url, items, size))
            _line(f"{name}: chunks/s, chunk {size}, {items:,} items", r, f, "chunks/s")
        claim = interleaved(runs, partial(b.first_chunks, chunk=CLAIM_CHUNK, count=CLAIM_FIRST))
        raw = interleaved(runs, partial(floors.layout_claim_cost, raw_url, chunk=CLAIM_CHUNK, first=CLAIM_FIRST))
        _claim_lines(name, claim, raw)
        print(f"{name}: worker peak RSS {', '.join(f'{r:.0f}' for r in b.workers.peak_rss_mib())} MiB")


def _chunks_per_second(b: harness.Bench, items: int, size: int) -> float:
    return -(-items // size) / b.run(items, size)


@contextmanager
def sqlite_urls() -> Iterator[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{tmp}/bench.db", f"{tmp}/floor.db"


@contextmanager
def postgres_urls(server: str) -> Iterator[tuple[str, str]]:
    with harness.scratch_postgres(server, "engine") as url, harness.scratch_postgres(server, "floor") as raw:
        yield url, raw


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get("BATCHYARD_BENCH_PG", DEFAULT_PG))
    parser.add_argument("--memory", action="store_true", help="also compare peak RSS for 200k and 2M items")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), help="measure one database only")
    args = parser.parse_args()
    _references(args.items, args.runs)
    if args.only != "postgresql":
        with sqlite_urls() as (url, raw):
            measure_database("SQLite", url, raw, args)
    if args.only != "sqlite":
        print(f"PostgreSQL server version measured: {harness.postgres_version(args.pg)}")
        with postgres_urls(args.pg) as (url, raw):
            measure_database("PostgreSQL", url, raw, args)
    if args.memory:
        _memory(args.items)
    print(f"bench process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def _references(n: int, runs: int) -> None:
    REFERENCES["item_rows"] = best(runs, lambda: floors.item_row_floor(n, 1000))
    REFERENCES["pool"] = best(runs, lambda: floors.process_pool(n, 1000))
    _reference("another design, a row per item (raw sqlite3)", REFERENCES["item_rows"])
    _reference("ProcessPoolExecutor(2), no persistence", REFERENCES["pool"])


def _reference(what: str, rate: float) -> None:
    print(f"reference: {what + ', chunk 1,000':<60} {rate:>10,.0f} items/s")


def _line(what: str, rate: float, floor: float, unit: str) -> None:
    print(f"{what:<50} batchyard {rate:>10,.0f} {unit}   raw floor {floor:>10,.0f}   ratio {rate / floor:5.2f}x")


def _claim_lines(name: str, claim: dict[int, float], raw: dict[int, float]) -> None:
    small, large = CLAIM_PENDING
    for p in CLAIM_PENDING:
        _line(f"{name}: chunks/s, first {CLAIM_FIRST:,} of {p:,} pending", claim[p], raw[p], "chunks/s")
    print(
        f"{name}: claim-cost ratio {large:,} vs {small:,} pending chunks: batchyard {claim[large] / claim[small]:.2f}x"
        f"   raw floor {raw[large] / raw[small]:.2f}x"
    )


def _memory(n: int) -> None:
    for size in (n, 10 * n):
        with sqlite_urls() as (url, _), harness.bench(url) as b:
            b.run(size, 1000)
            rss = max(b.workers.peak_rss_mib())
            sub = harness.submitter_peak_mib(url, size)
            print(f"memory {size:>9,} items: worker peak RSS {rss:.0f} MiB, submitter peak RSS {sub:.0f} MiB")


if __name__ == "__main__":
    main()
