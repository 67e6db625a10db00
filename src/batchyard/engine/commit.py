"""Committing a chunk's outcome, running the job type's ``write`` inside the commit transaction.

When ``write`` fails for the batch, the batch is bisected under savepoints so that only the items it really
fails on are marked failed; the rest of the chunk commits with them, in the same transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from batchyard.core.context import Context
from batchyard.core.jobtype import JobType
from batchyard.core.model import ChunkOutcome, ItemError
from batchyard.core.planning import bisect_failures
from batchyard.core.policies import OnError
from batchyard.core.status import ItemState
from batchyard.engine.runner import describe
from batchyard.store.base import CommitSession, Store


def commit_outcome(store: Store, job_type: JobType, outcome: ChunkOutcome, ctx: Context) -> bool:
    """Commit; True when no pending chunk is left, so the caller should try to finish the job."""
    with store.commit_session(outcome.chunk) as session:
        if job_type.write is not None:
            outcome = _write(session, job_type, outcome, ctx)
        return session.apply(outcome)


def _write(session: CommitSession, job_type: JobType, outcome: ChunkOutcome, ctx: Context) -> ChunkOutcome:
    fresh = [
        i
        for i, (before, after) in enumerate(zip(outcome.chunk.states, outcome.states, strict=True))
        if before == ItemState.PENDING and after == ItemState.SUCCEEDED
    ]
    if not fresh:
        return outcome
    write = job_type.write
    assert write is not None
    ctx.connection = session.connection

    def attempt(indices: Sequence[int]) -> BaseException | None:
        return session.attempt(lambda: write([outcome.outputs[i] for i in indices], ctx))

    try:
        failures = bisect_failures(fresh, attempt)
    finally:
        ctx.connection = None
    if not failures:
        return outcome
    failed = _mark_failed(outcome, failures)
    if job_type.policies.on_error == OnError.STOP and failed.stop_reason is None:
        first = min(failures)
        reason = f"item {outcome.chunk.first_index + first} failed: {describe(failures[first])}"
        failed = dataclasses.replace(failed, stop_reason=reason)
    return failed


def _mark_failed(outcome: ChunkOutcome, failures: dict[int, BaseException]) -> ChunkOutcome:
    states = list(outcome.states)
    outputs = list(outcome.outputs)
    errors = list(outcome.errors)
    for i, exc in failures.items():
        states[i] = ItemState.FAILED
        outputs[i] = None
        errors.append(ItemError(outcome.chunk.first_index + i, describe(exc), outcome.attempts.get(i, 1)))
    keys = outcome.chunk.keys
    bad_keys = {keys[i] for i in failures} if keys is not None else set()
    return dataclasses.replace(
        outcome,
        states="".join(states),
        outputs=outputs,
        errors=tuple(errors),
        done_keys=tuple(k for k in outcome.done_keys if k not in bad_keys),
    )
