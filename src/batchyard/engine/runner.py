"""Running one claimed chunk: each pending item through ``process``, under the job type's error policy."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from batchyard.core.backoff import backoff_seconds
from batchyard.core.context import Completed, Context, RetryLater, Skip
from batchyard.core.jobtype import JobType, ProcessFn
from batchyard.core.model import ChunkOutcome, ClaimedChunk, ItemError
from batchyard.core.policies import OnError
from batchyard.core.status import ItemState
from batchyard.engine.guard import Interruption, ItemGuard, ItemOverdue
from batchyard.errors import BatchyardError, BlobStorageError, ChunkChanged, DatabaseUnavailable, ItemTimedOut

log = logging.getLogger("batchyard.worker")

LOAD_RETRY_SECONDS = 10.0  # a chunk whose items could not be read (the file storage away) waits this long
PENDING, SUCCEEDED, FAILED, SKIPPED = ItemState.PENDING, ItemState.SUCCEEDED, ItemState.FAILED, ItemState.SKIPPED


@dataclass
class _Progress:
    """The chunk's arrays as they are being filled in."""

    first_index: int
    states: list[str]
    outputs: list[Any]
    attempts: dict[int, int]
    errors: list[ItemError] = field(default_factory=list)
    retry_at: float | None = None
    stop_reason: str | None = None


def run_chunk(
    job_type: JobType, chunk: ClaimedChunk, ctx: Context, *, done_scope: str | None, guard: ItemGuard | None = None
) -> ChunkOutcome:
    """Process the chunk's pending items until done or told to stop; return what to commit.

    With a ``guard`` (the worker's heartbeat watches it), an item that runs past its ``timeout`` fails with
    ``ItemTimedOut``, and one that does not give way after a stop request is interrupted and left pending.
    """
    progress = _Progress(chunk.first_index, list(chunk.states), list(chunk.outputs), dict(chunk.attempts))
    loaded = chunk if ctx.stop_requested else _loaded(job_type, chunk, ctx)
    if ctx.stop_requested:  # given back untouched (its job paused or cancelled, the worker stopping): not loaded
        pass
    elif isinstance(loaded, BlobStorageError | DatabaseUnavailable):  # a fault, not the items': a pause
        log.warning("chunk %s of job %s could not be loaded, retried later: %s", chunk.seq, chunk.job_id, loaded)
        progress.retry_at = time.time() + LOAD_RETRY_SECONDS
    elif isinstance(loaded, Exception):
        _fail_pending(job_type, chunk, ctx, loaded, progress)
    elif isinstance(loaded.items, Completed):
        completed = loaded.items
        chunk = loaded if completed.items is None else dataclasses.replace(loaded, items=completed.items)
        _complete_loaded(completed, chunk, ctx, progress)
    elif guard is None:
        chunk = loaded
        _process_items(job_type.process, job_type, chunk, ctx, progress)
    else:
        chunk = loaded
        _process_guarded(job_type, chunk, ctx, progress, guard)
    states = "".join(progress.states)
    return ChunkOutcome(
        chunk=chunk,
        states=states,
        outputs=progress.outputs,
        attempts=progress.attempts,
        errors=tuple(progress.errors),
        retry_at=progress.retry_at,
        done_keys=_done_keys(chunk, states) if done_scope else (),
        done_scope=done_scope,
        stop_reason=progress.stop_reason,
        max_failures=job_type.policies.max_failures,
        current=ctx.current,
    )


def _loaded(job_type: JobType, chunk: ClaimedChunk, ctx: Context) -> ClaimedChunk | Exception:
    """The chunk with its items, loaded from its spec for a job type that stores specs (rows read from their
    file); the error when they cannot be, which then fails the chunk's open items."""
    if job_type.load is None or isinstance(chunk.items, list):
        return chunk
    try:
        items = job_type.load(chunk.items, ctx)
    except Exception as exc:  # noqa: BLE001 - a file gone or unreadable fails its items, never the worker
        return exc
    kept = items.items if isinstance(items, Completed) and items.items is not None else items
    for found in (len(items), len(kept)):
        if found != len(chunk.states):
            return ChunkChanged(expected=len(chunk.states), found=found)
    return dataclasses.replace(chunk, items=items)


def _complete_loaded(outputs: list[Any], chunk: ClaimedChunk, ctx: Context, progress: _Progress) -> None:
    """Every pending item succeeded as its chunk was loaded, with the output ``load`` gave it; the last of them
    is the item in hand, as after the item loop (what the job shows as ``current``)."""
    states, kept, attempts = progress.states, progress.outputs, progress.attempts
    last = None
    for i, state in enumerate(states):
        if state == PENDING:
            states[i] = SUCCEEDED
            kept[i] = outputs[i]
            last = i
            if i in attempts:
                attempts[i] += 1
    if last is not None and isinstance(chunk.items, list):
        ctx.item, ctx.index = chunk.items[last], chunk.first_index + last


def _fail_pending(job_type: JobType, chunk: ClaimedChunk, ctx: Context, error: Exception, progress: _Progress) -> None:
    """Every open item of the chunk fails (or waits for another attempt) with the chunk's own error."""
    for i, state in enumerate(chunk.states):
        if state == PENDING:
            ctx.item, ctx.index = None, chunk.first_index + i
            ctx.attempt = progress.attempts.get(i, 0) + 1
            _record_failure(job_type, chunk.first_index + i, ctx, error, progress)


def _process_guarded(
    job_type: JobType, chunk: ClaimedChunk, ctx: Context, progress: _Progress, guard: ItemGuard
) -> None:
    """The item loop, where the heartbeat may interrupt it: the guard knows the loop runs, and for which ``ctx``.

    An interruption may land anywhere in the loop, not only inside ``process``; the item in hand then stays
    pending, and what the loop finished is committed as after any stop.
    """
    process = _with_deadline(job_type.process, job_type.policies.timeout, guard)
    try:
        try:
            guard.enter(ctx)
            _process_items(process, job_type, chunk, ctx, progress)
        finally:
            guard.leave()
    except Interruption:
        log.warning("item %r of job %s interrupted: it did not stop when asked", ctx.item, chunk.job_id)
        ctx.request_stop()


def _process_items(
    process: ProcessFn, job_type: JobType, chunk: ClaimedChunk, ctx: Context, progress: _Progress
) -> None:
    """The hot loop: kept flat, since for cheap items its overhead is the engine's per-item cost."""
    items, states, outputs, attempts = chunk.items, progress.states, progress.outputs, progress.attempts
    first = chunk.first_index
    for i, state in enumerate(chunk.states):
        if state != PENDING:
            continue
        if ctx.stop_requested or progress.stop_reason is not None:
            break
        item = ctx.item = items[i]
        ctx.index = first + i
        ctx.attempt = attempts.get(i, 0) + 1
        try:
            outputs[i] = process(item, ctx)
            states[i] = SUCCEEDED
            if i in attempts:
                attempts[i] = ctx.attempt
        except RetryLater as later:  # not ready: left pending, the chunk given back until then
            progress.retry_at = max(progress.retry_at or 0.0, time.time() + later.seconds)
            log.info("item %s of job %s waits: %s", ctx.index, chunk.job_id, later.reason)
            break
        except Skip as skip:
            states[i] = SKIPPED
            if skip.reason:
                kept, ref = stored_form(job_type, item)
                progress.errors.append(ItemError(chunk.first_index + i, skip.reason, ctx.attempt, None, kept, ref))
        except Exception as exc:  # noqa: BLE001 - any error of user code fails the item, never the worker
            _record_failure(job_type, chunk.first_index + i, ctx, exc, progress)


def _done_keys(chunk: ClaimedChunk, states: str) -> tuple[str, ...]:
    """The keys ``skip_done`` remembers: items done now, succeeded or skipped by the job's code (a day with no
    trading is as done as a day synced: neither is fetched again)."""
    if chunk.keys is None:
        return ()
    return tuple(
        key
        for key, before, after in zip(chunk.keys, chunk.states, states, strict=True)
        if before == PENDING and after in _DONE
    )


_DONE = frozenset({SUCCEEDED, SKIPPED})


def _record_failure(job_type: JobType, index: int, ctx: Context, exc: Exception, progress: _Progress) -> None:
    policies = job_type.policies
    i = index - progress.first_index
    progress.attempts[i] = ctx.attempt
    progress.outputs[i] = None
    fails_job = getattr(exc, "fails_job", False) is True
    if policies.on_error == OnError.RETRY and ctx.attempt < policies.max_attempts and not fails_job:
        due = time.time() + backoff_seconds(ctx.attempt, base=policies.retry_backoff)
        progress.retry_at = max(progress.retry_at or 0.0, due)
        return
    message = describe(exc)
    progress.states[i] = FAILED
    kept, ref = stored_form(job_type, ctx.item)
    progress.errors.append(ItemError(index, message, ctx.attempt, describe_zh(exc), kept, ref))
    if policies.on_error == OnError.STOP or fails_job:
        progress.stop_reason = f"item {index} failed: {message}"


def stored_form(job_type: JobType, item: Any) -> tuple[Any, int | None]:
    """What to keep of a failed or skipped item whose chunk does not store it, and its place in the source."""
    if job_type.stored_form is None or item is None:
        return None, None
    try:
        return job_type.stored_form(item)
    except Exception:  # the item's reason is kept even when its input cannot be
        log.exception("keeping a failed item's input failed")
        return None, None


def describe(exc: BaseException) -> str:
    """``Type: message`` for a failed item; a message that cannot even be rendered still leaves the type. The
    file storage's own words (its endpoint, bucket and keys) are logged, not kept where the job's owner reads."""
    if isinstance(exc, BlobStorageError):
        log.warning("an item failed on the file storage: %s", exc)
        return f"{type(exc).__name__}: {BlobStorageError(reason='see the worker log').message()}"
    if isinstance(exc, BatchyardError) and exc.bare:
        return exc.message()
    try:
        text = str(exc).strip()
    except Exception:  # noqa: BLE001 - user code's __str__ may raise anything
        text = "(the error's message could not be rendered)"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def describe_zh(exc: BaseException) -> str | None:
    """batchyard's own errors have their reason in Chinese too (an image that cannot be read, a timeout)."""
    if not isinstance(exc, BatchyardError):
        return None
    if isinstance(exc, BlobStorageError):
        return BlobStorageError(reason="详见 worker 日志").message("zh-CN")
    try:
        return exc.message("zh-CN")
    except Exception:  # noqa: BLE001 - details that cannot be rendered: the English reason stands alone
        return None


def _with_deadline(process: ProcessFn, seconds: float | None, guard: ItemGuard) -> ProcessFn:
    """Per-item timeout: the guard holds the deadline, the heartbeat thread raises ``ItemOverdue`` past it.

    The nesting matters: an ``ItemOverdue`` that lands after ``process`` returned but before the deadline is
    cleared is still turned into this item's timeout, never into an exception of the loop.
    """
    if seconds is None:
        return process

    def limited(item: Any, ctx: Context) -> Any:
        started = time.monotonic()
        try:
            guard.arm(seconds)
            try:
                output = process(item, ctx)
            finally:
                guard.disarm()
        except ItemOverdue:
            raise ItemTimedOut(seconds=seconds) from None
        if time.monotonic() - started > seconds:  # where it could not be cut short, a late result still fails
            raise ItemTimedOut(seconds=seconds)
        return output

    return limited
