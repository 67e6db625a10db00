"""Committing a chunk's outcome, running the job type's ``write`` inside the commit transaction.

When ``write`` fails for the batch, the batch is bisected under savepoints so that only the items it really
fails on are marked failed (or, under ``on_error="retry"``, put back for another attempt); the rest of the
chunk commits with them, in the same transaction. An output the database cannot hold fails its item alone.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from batchyard.core.backoff import backoff_seconds
from batchyard.core.context import Context, Skip
from batchyard.core.jobtype import JobType
from batchyard.core.model import ChunkOutcome, ClaimedChunk, ItemError
from batchyard.core.planning import bisect_failures
from batchyard.core.policies import OnError, Policies
from batchyard.core.status import ItemState
from batchyard.engine.runner import describe, describe_zh, stored_form
from batchyard.store.base import CommitSession, NextClaim, Store

log = logging.getLogger("batchyard.worker")


def commit_outcome(store: Store, job_type: JobType, outcome: ChunkOutcome, ctx: Context) -> bool:
    """Commit, with a progress event of its own; True when no pending chunk is left, so the caller should try
    to finish the job."""
    drained, _ = commit_and_claim(store, job_type, outcome, ctx, None, progress=outcome.delta.processed)
    return drained


def commit_and_claim(
    store: Store,
    job_type: JobType,
    outcome: ChunkOutcome,
    ctx: Context,
    claim: NextClaim | None,
    *,
    progress: int | None,
) -> tuple[bool, ClaimedChunk | None]:
    """Commit, and in the same transaction claim the worker's next chunk (when ``claim`` asks and the next
    chunk in claim order can be taken there): one transaction per chunk instead of two. ``progress``: the
    items the commit's progress event reports (None: no event; see ``progress.py``)."""
    with store.commit_session(
        outcome.chunk, may_stop=may_stop(job_type.policies), for_write=job_type.write is not None
    ) as session:
        if job_type.load is None:
            outcome = _fail_unstorable(session, job_type, outcome)
        if job_type.write is not None:
            outcome = _write(session, job_type, outcome, ctx)
        if job_type.load is not None:  # rows of a file: ``write`` says what each output is (see decision 0025)
            outcome = _fail_unstorable(session, job_type, outcome)
        drained = session.apply(outcome, claim, progress=progress)
    return drained, session.claimed()


def _fail_unstorable(session: CommitSession, job_type: JobType, outcome: ChunkOutcome) -> ChunkOutcome:
    unstorable = session.unstorable(outcome.outputs)
    if not unstorable:
        return outcome
    # the same output again would not store either: no retry, but a stop still stops
    return _fail_items(outcome, unstorable, policies=job_type.policies, retry=False, job_type=job_type)


def commit_failed(store: Store, job_type: JobType, outcome: ChunkOutcome, error: BaseException) -> bool:
    """Commit the chunk with every item it had just completed failed by ``error``: what is left when the
    commit itself failed in a way bisection could not pin on items (a deferred constraint at COMMIT)."""
    reason = f"the chunk could not be committed: {describe(error)}"
    fresh = {i: reason for i in _fresh(outcome, ItemState.SUCCEEDED)}
    failed = _fail_items(outcome, fresh, policies=job_type.policies, retry=False, job_type=job_type)
    with store.commit_session(outcome.chunk, may_stop=may_stop(job_type.policies)) as session:
        return session.apply(dataclasses.replace(failed, done_keys=()), progress=failed.delta.processed)


def commit_unrunnable(store: Store, chunk: ClaimedChunk, reason: str) -> bool:
    """Fail every open item of a chunk that cannot run at all (its job's params no longer parse) and stop the
    job: no other chunk of it could run either."""
    open_ = [i for i, state in enumerate(chunk.states) if state == ItemState.PENDING]
    outcome = ChunkOutcome(
        chunk=chunk,
        states=chunk.states.replace(ItemState.PENDING, ItemState.FAILED),
        outputs=list(chunk.outputs),
        attempts=dict(chunk.attempts),
        errors=tuple(ItemError(chunk.first_index + i, reason, chunk.attempts.get(i, 0) + 1) for i in open_),
        stop_reason=reason,
    )
    with store.commit_session(chunk, may_stop=True) as session:
        return session.apply(outcome, progress=outcome.delta.processed)


def may_stop(policies: Policies) -> bool:
    """Whether a commit of this job type may end the job for its failures (and so must lock it for that)."""
    return policies.on_error == OnError.STOP or policies.max_failures is not None


def _fresh(outcome: ChunkOutcome, *states: str) -> list[int]:
    """Items this run took from pending to one of ``states``."""
    before, after = outcome.chunk.states, outcome.states
    if before.count(ItemState.PENDING) == len(before) and any(after.count(s) == len(after) for s in states):
        return list(range(len(after)))  # the usual chunk: every item was open and ended the same way
    return [
        i
        for i, (before, after) in enumerate(zip(outcome.chunk.states, outcome.states, strict=True))
        if before == ItemState.PENDING and after in states
    ]


def _write(session: CommitSession, job_type: JobType, outcome: ChunkOutcome, ctx: Context) -> ChunkOutcome:
    fresh = _fresh(outcome, ItemState.SUCCEEDED)
    if not fresh:
        return outcome
    write = job_type.write
    assert write is not None
    ctx.connection = session.connection

    said: dict[int, Any] = {}  # what write reported of single items, by chunk position

    def attempt(indices: Sequence[int]) -> BaseException | None:
        def run() -> None:
            every = len(indices) == len(outcome.outputs)  # the whole chunk: positions are the chunk's own
            result = write(list(outcome.outputs) if every else [outcome.outputs[i] for i in indices], ctx) or {}
            if result and not (set(map(type, result)) == {int} and min(result) >= 0 and max(result) < len(indices)):
                raise IndexError(f"write said something of a position outside its {len(indices)} items")
            said.update(result if every else {indices[p]: value for p, value in result.items()})

        return session.attempt(run)

    try:
        failures = bisect_failures(fresh, attempt)
    finally:
        ctx.connection = None
    for i in failures:
        said.pop(i, None)  # a part that failed was rolled back: what its write said of it no longer holds
    outcome = _apply_said(outcome, said, job_type)
    if not failures:
        return outcome
    reasons = {i: describe(exc) for i, exc in failures.items()}
    reasons_zh = {i: describe_zh(exc) for i, exc in failures.items()}
    failed = _fail_items(outcome, reasons, policies=job_type.policies, job_type=job_type, zh=reasons_zh)
    return _stopped_by(failed, failures)


def _apply_said(outcome: ChunkOutcome, said: Mapping[int, Any], job_type: JobType) -> ChunkOutcome:
    """What ``write`` reported of single items: a new output, a skip (with its reason), or an error that fails
    the item at once (a refusal by the writer, such as a duplicate key, would be the same on another try)."""
    if not said:
        return outcome
    if not any(issubclass(kind, BaseException) for kind in set(map(type, said.values()))):  # only new outputs
        return dataclasses.replace(outcome, outputs=list(map(said.get, range(len(outcome.outputs)), outcome.outputs)))
    outputs, states, errors = list(outcome.outputs), list(outcome.states), list(outcome.errors)
    failed: dict[int, str] = {}
    failed_zh: dict[int, str | None] = {}
    for i, value in said.items():
        if isinstance(value, Skip):
            states[i], outputs[i] = ItemState.SKIPPED, None
            if value.reason:
                kept, ref = stored_form(job_type, outcome.chunk.items[i])
                index, tried = outcome.chunk.first_index + i, outcome.attempts.get(i, 1)
                errors.append(ItemError(index, value.reason, tried, value.reason_zh, kept, ref))
        elif isinstance(value, BaseException):
            failed[i] = describe(value)
            failed_zh[i] = describe_zh(value)
        else:
            outputs[i] = value
    changed = dataclasses.replace(outcome, outputs=outputs, states="".join(states), errors=tuple(errors))
    if not failed:
        return changed
    refused = _fail_items(changed, failed, policies=job_type.policies, retry=False, job_type=job_type, zh=failed_zh)
    return _stopped_by(refused, {i: v for i, v in said.items() if isinstance(v, BaseException)})


def _stopped_by(outcome: ChunkOutcome, errors: Mapping[int, BaseException]) -> ChunkOutcome:
    """An item failed with an error that fails its job (``BatchyardError.fails_job``): the job stops."""
    if outcome.stop_reason is not None:
        return outcome
    for i, error in sorted(errors.items()):
        if getattr(error, "fails_job", False) is True:
            index = outcome.chunk.first_index + i
            return dataclasses.replace(outcome, stop_reason=f"item {index} failed: {describe(error)}")
    return outcome


def _fail_items(
    outcome: ChunkOutcome,
    reasons: Mapping[int, str],
    *,
    policies: Policies,
    retry: bool = True,
    job_type: JobType | None = None,
    zh: Mapping[int, str | None] | None = None,
) -> ChunkOutcome:
    """Fail the items at ``reasons`` (chunk positions), or put them back for a later attempt while
    ``policies`` say retry (and ``retry`` allows); with ``on_error="stop"`` the first failure stops the job."""
    states, outputs = list(outcome.states), list(outcome.outputs)
    attempts, errors = dict(outcome.attempts), list(outcome.errors)
    retry_at, first = outcome.retry_at, outcome.chunk.first_index
    for i, reason in reasons.items():
        tried = attempts.get(i, 1)
        outputs[i] = None
        attempts[i] = tried
        if retry and policies.on_error == OnError.RETRY and tried < policies.max_attempts:
            states[i] = ItemState.PENDING
            retry_at = max(retry_at or 0.0, time.time() + backoff_seconds(tried, base=policies.retry_backoff))
            continue
        states[i] = ItemState.FAILED
        kept, ref = stored_form(job_type, outcome.chunk.items[i]) if job_type is not None else (None, None)
        errors.append(ItemError(first + i, reason, tried, (zh or {}).get(i), kept, ref))
    stop_reason = outcome.stop_reason
    failed_now = sorted(i for i in reasons if states[i] == ItemState.FAILED)
    if policies.on_error == OnError.STOP and stop_reason is None and failed_now:
        stop_reason = f"item {first + failed_now[0]} failed: {reasons[failed_now[0]]}"
    keys = outcome.chunk.keys
    bad_keys = {keys[i] for i in reasons} if keys is not None else set()
    return dataclasses.replace(
        outcome,
        states="".join(states),
        outputs=outputs,
        attempts=attempts,
        errors=tuple(errors),
        retry_at=retry_at,
        stop_reason=stop_reason,
        done_keys=tuple(k for k in outcome.done_keys if k not in bad_keys),
    )
