"""Running one claimed chunk: each pending item through ``process``, under the job type's error policy."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from batchyard.core.backoff import backoff_seconds
from batchyard.core.context import Context, Skip
from batchyard.core.jobtype import JobType
from batchyard.core.model import ChunkOutcome, ClaimedChunk, ItemError
from batchyard.core.policies import OnError
from batchyard.core.status import ItemState

LABEL_LIMIT = 200


class ItemTimeout(Exception):
    pass


@dataclass
class _Progress:
    """The chunk's arrays as they are being filled in."""

    first_index: int
    states: list[str]
    outputs: list[Any]
    attempts: dict[int, int]
    errors: list[ItemError] = field(default_factory=list)
    done_keys: list[str] = field(default_factory=list)
    retry_at: float | None = None
    stop_reason: str | None = None


def run_chunk(job_type: JobType, chunk: ClaimedChunk, ctx: Context, *, done_scope: str | None) -> ChunkOutcome:
    """Process the chunk's pending items until done or told to stop; return what to commit."""
    progress = _Progress(chunk.first_index, list(chunk.states), list(chunk.outputs), dict(chunk.attempts))
    for i, state in enumerate(chunk.states):
        if state != ItemState.PENDING:
            continue
        if ctx.should_stop() or progress.stop_reason is not None:
            break
        _run_item(job_type, chunk, ctx, i, progress)
    return ChunkOutcome(
        chunk=chunk,
        states="".join(progress.states),
        outputs=progress.outputs,
        attempts=progress.attempts,
        errors=tuple(progress.errors),
        retry_at=progress.retry_at,
        done_keys=tuple(progress.done_keys) if done_scope else (),
        done_scope=done_scope,
        stop_reason=progress.stop_reason,
        max_failures=job_type.policies.max_failures,
        current=ctx.current,
    )


def _run_item(job_type: JobType, chunk: ClaimedChunk, ctx: Context, i: int, progress: _Progress) -> None:
    item = chunk.items[i]
    ctx.attempt = progress.attempts.get(i, 0) + 1
    ctx.current = label_of(item)
    try:
        with _deadline(job_type.policies.timeout):
            output = job_type.process(item, ctx)
    except Skip as skip:
        progress.states[i] = ItemState.SKIPPED
        progress.outputs[i] = None
        if skip.reason:
            progress.errors.append(ItemError(chunk.first_index + i, skip.reason, ctx.attempt))
    except Exception as exc:  # noqa: BLE001 - any error of user code fails the item, never the worker
        _record_failure(job_type, chunk.first_index + i, ctx, exc, progress)
    else:
        progress.states[i] = ItemState.SUCCEEDED
        progress.outputs[i] = output
        if chunk.keys is not None:
            progress.done_keys.append(chunk.keys[i])


def _record_failure(job_type: JobType, index: int, ctx: Context, exc: Exception, progress: _Progress) -> None:
    policies = job_type.policies
    i = index - progress.first_index
    progress.attempts[i] = ctx.attempt
    if policies.on_error == OnError.RETRY and ctx.attempt < policies.max_attempts:
        due = time.time() + backoff_seconds(ctx.attempt, base=policies.retry_backoff)
        progress.retry_at = max(progress.retry_at or 0.0, due)
        return
    message = describe(exc)
    progress.states[i] = ItemState.FAILED
    progress.errors.append(ItemError(index, message, ctx.attempt))
    if policies.on_error == OnError.STOP:
        progress.stop_reason = f"item {index} failed: {message}"


def describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def label_of(item: Any) -> str:
    text = item if isinstance(item, str) else repr(item)
    return text[:LABEL_LIMIT]


@contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    """Interrupt an item that runs past its timeout (SIGALRM: main thread only, elsewhere no limit)."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _expired(_signum: int, _frame: Any) -> None:
        raise ItemTimeout(f"the item took longer than {seconds:g}s")

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
