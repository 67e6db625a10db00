"""Cutting a stream of items into chunk descriptors, lazily, so no job ever holds all its items in memory."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from batchyard.core.jobtype import KeyFn
from batchyard.core.model import PlannedChunk
from batchyard.core.status import ItemState
from batchyard.errors import TooManyItems

ITEMS_PER_BATCH = 10_000  # items stored per planning transaction: workers start after the first batch
# The reason a job stops with when its submitter died (or stalled past its lease) before storing every item.
SUBMISSION_INTERRUPTED = "the submission was interrupted before all items were stored"
SEGMENTS_PER_BATCH = 20  # chunks of a file stored per planning transaction: work starts on the first ones soon
FLUSH_SECONDS = 1.0  # a slow source's items are stored at least this often, so work starts on them

AlreadyDone = Callable[[Sequence[str]], set[str]]


def cut_chunks(
    items: Iterable[Any],
    *,
    chunk_size: int,
    first_index: int = 0,
    first_seq: int = 0,
    key: KeyFn | None = None,
    already_done: AlreadyDone | None = None,
    flush_after: float = FLUSH_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[list[PlannedChunk]]:
    """Yield batches of planned chunks: full batches from a fast source, and whatever is ready (a chunk cut
    short if need be) once ``flush_after`` seconds passed, so workers start on a slow source's first items.
    Items whose key was done in an earlier job (``already_done``) are planned as skipped, so a re-run reports
    them instead of doing them again."""
    per_batch = max(1, ITEMS_PER_BATCH // chunk_size)
    index, seq = first_index, first_seq
    batch: list[PlannedChunk] = []
    due = [clock() + flush_after]  # when the batch in hand is stored, ready or not; shared with _slices
    for slice_ in _slices(iter(items), chunk_size, due, clock):
        batch.append(_plan(slice_, index, seq, key, already_done))
        index, seq = index + len(slice_), seq + 1
        if len(batch) == per_batch or clock() >= due[0]:
            yield batch
            batch = []
            due[0] = clock() + flush_after
    if batch:
        yield batch


def _slices(iterator: Iterator[Any], size: int, due: list[float], clock: Callable[[], float]) -> Iterator[list[Any]]:
    """Consecutive lists of ``size`` items; the list in hand is cut short once the clock passes ``due[0]``."""
    current: list[Any] = []
    append = current.append
    for item in iterator:
        append(item)
        if len(current) == size or clock() >= due[0]:
            yield current
            current = []
            append = current.append
    if current:
        yield current


def _plan(items: list[Any], index: int, seq: int, key: KeyFn | None, already_done: AlreadyDone | None) -> PlannedChunk:
    keys = [str(key(item)) for item in items] if key is not None else None
    states = ItemState.PENDING * len(items)
    if keys is not None and already_done is not None and (done := already_done(keys)):
        states = "".join(ItemState.SKIPPED if k in done else ItemState.PENDING for k in keys)
    return PlannedChunk(seq=seq, first_index=index, items=items, keys=keys, states=states)


@dataclass(frozen=True, slots=True)
class Segment:
    """A chunk's worth of items described instead of listed (``{"offset": o, "length": n}`` of a file): what
    the source of a job type with ``load`` yields, ``size`` being how many items loading it gives."""

    spec: dict[str, Any]
    size: int


def cut_segments(
    segments: Iterable[Segment], *, first_index: int = 0, first_seq: int = 0, skip_items: int = 0
) -> Iterator[list[PlannedChunk]]:
    """A chunk per segment, in batches; the first ``skip_items`` items (stored by an earlier planner of the same
    job) are passed over — a source of segments cuts the same file the same way every time."""
    index, seq, batch = first_index, first_seq, []
    for segment in segments:
        if skip_items > 0:
            if segment.size > skip_items:
                raise ValueError("the source's segments changed since they were first planned")
            skip_items -= segment.size
            continue
        if segment.size <= 0:
            continue
        batch.append(PlannedChunk(seq, index, segment.spec, None, ItemState.PENDING * segment.size))
        index, seq = index + segment.size, seq + 1
        if len(batch) == SEGMENTS_PER_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def within_limit(items: Iterable[Any], limit: int | None, *, type_name: str, start: int = 0) -> Iterator[Any]:
    """Pass items through, raising TooManyItems when item number ``limit + 1`` is reached."""
    if limit is None:
        yield from items
        return
    for count, item in enumerate(items, start=start + 1):
        if count > limit:
            raise TooManyItems(type=type_name, limit=limit, count=f"{limit + 1}+")
        yield item


def bisect_failures(
    indices: Sequence[int], attempt: Callable[[Sequence[int]], BaseException | None]
) -> dict[int, BaseException]:
    """Find the items a batch operation fails on by halving: one bad row never fails 999 good ones.

    ``attempt`` runs the operation on a subset and returns its error (having undone its effects) or None.
    Costs about 2·log2(n) attempts per bad item.
    """
    error = attempt(indices)
    if error is None:
        return {}
    if len(indices) == 1:
        return {indices[0]: error}
    middle = len(indices) // 2
    return bisect_failures(indices[:middle], attempt) | bisect_failures(indices[middle:], attempt)
