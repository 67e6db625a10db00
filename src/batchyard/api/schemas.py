"""What the API speaks: request and response bodies, separate from the domain classes they are built from."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from batchyard.core.causes import Cause, cause_of
from batchyard.core.jobtype import JobType
from batchyard.core.users import EMAIL_MAX_LENGTH, EMAIL_PATTERN, Role


def _json_integer(value: Any) -> Any:
    """Lax pydantic reads `true` as 1 and "7" as 7; the document's `integer` takes neither (7.0 it does)."""
    if isinstance(value, bool | str):
        raise ValueError("Input should be an integer")
    return value


JSON_INTEGER = BeforeValidator(_json_integer)  # after a field's bounds: before them, the document loses them


def _finite(value: Any) -> Any:
    """JSON has no NaN or Infinity, yet Python's parser reads them; stored, they would come back as null."""
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, float) and not math.isfinite(current):
            raise ValueError("NaN and Infinity are not JSON numbers")
        if isinstance(current, list):
            stack.extend(current)
        elif isinstance(current, dict):
            stack.extend(current.values())
    return value


JSON_FINITE = AfterValidator(_finite)


class Out(BaseModel):
    """A response read off the attributes of the same names of a domain record (``Out.of(record)``)."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, record: Any) -> Self:
        return cls.model_validate(record)


class RoundOut(Out):
    number: int
    started_at: datetime
    items: int
    finished_at: datetime | None


class JobOut(Out):
    id: int
    type: str
    owner: str
    status: str
    params: dict[str, Any]
    total: int
    processed: int
    succeeded: int
    failed: int
    skipped: int
    progress: float = Field(description="percent of the items done, 0-100")
    eta_seconds: float | None
    current: str | None = Field(description="the label of an item in hand, e.g. the date being synced")
    round: int
    rounds: list[RoundOut]
    error: str | None
    quota: QuotaOut
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class QuotaOut(Out):
    charged: int = Field(description="quota this job charged its owner, over all its rounds")
    refunded: int = Field(description="quota given back: failures, skips, items a cancel left undone")


class LedgerEntryOut(Out):
    id: int
    job_id: int | None
    kind: str = Field(description="charge, refund, grant (a starting balance) or set (an administrator's change)")
    amount: int = Field(description="signed: a charge is negative")
    balance_after: int
    created_at: datetime


class LedgerPage(BaseModel):
    entries: list[LedgerEntryOut]
    next_cursor: str | None


class UserPage(BaseModel):
    users: list[UserOut]
    next_cursor: str | None


class JobPage(BaseModel):
    jobs: list[JobOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page; null on the last")


class SubmitIn(BaseModel):
    type: str = Field(max_length=200, description="a job type's name, see `GET /job-types`")
    params: Annotated[dict[str, Any], JSON_FINITE] = Field(default_factory=dict)
    items: Annotated[list[Any] | None, JSON_FINITE] = Field(
        default=None, description="the items; omit for a type with a source"
    )
    upload_ids: list[Annotated[int, Field(ge=1, le=2**63 - 1), JSON_INTEGER]] | None = Field(
        default=None,
        max_length=10_000,
        description="files from `POST /uploads` (the caller's own): an item per file, in this order; not with `items`",
    )


class PreviewIn(BaseModel):
    params: Annotated[dict[str, Any], JSON_FINITE] = Field(default_factory=dict)
    upload_ids: list[Annotated[int, Field(ge=1, le=2**63 - 1), JSON_INTEGER]] = Field(
        default_factory=list, max_length=10_000, description="files from `POST /uploads` (the caller's own)"
    )


class ItemOut(Out):
    index: int
    key: str | None
    status: str
    input: Any
    output: Any
    error: str | None = Field(
        description="why it failed or was skipped; in Chinese for `Accept-Language: zh-CN` when the reason has it"
    )
    attempts: int
    ref: int | None = Field(
        default=None, description="where the item was in its source, when known: the line of an imported row"
    )


class ItemPage(BaseModel):
    items: list[ItemOut]
    next_cursor: str | None


class JobTypeOut(BaseModel):
    name: str
    title: str
    unit_cost: int = Field(description="quota charged per item")
    jobs_per_hour: int | None
    jobs_per_day: int | None
    max_active_jobs: int | None
    params_schema: dict[str, Any] | None = Field(description="JSON Schema of `params`; null: any object")
    takes_items: bool = Field(description="false when the type enumerates its own items (a source)")
    chunk_size: int
    max_items: int | None
    max_concurrency: int | None
    priority: int
    exclusive: str | None
    accepts: list[str] | None = Field(description="content types its uploads may have, by their bytes; null: any")
    max_file_bytes: int | None = Field(
        description="the largest upload it takes, this server's own cap included; null: this server keeps no files"
    )

    @classmethod
    def of(cls, job_type: JobType, max_file_bytes: int | None) -> JobTypeOut:
        """``max_file_bytes``: the largest upload it takes here (none without a blob store)."""
        p = job_type.policies
        schema = job_type.params_model.model_json_schema() if job_type.params_model else None
        return cls(
            name=job_type.name,
            title=job_type.title or job_type.name,
            unit_cost=p.unit_cost,
            jobs_per_hour=p.jobs_per_hour,
            jobs_per_day=p.jobs_per_day,
            max_active_jobs=p.max_active_jobs,
            params_schema=schema,
            takes_items=job_type.source is None,
            chunk_size=p.chunk_size,
            max_items=p.max_items,
            max_concurrency=p.max_concurrency,
            priority=p.priority,
            exclusive=p.exclusive,
            accepts=list(p.accepts) if p.accepts is not None else None,
            max_file_bytes=max_file_bytes,
        )


class UserOut(Out):
    id: int
    name: str
    role: Role
    quota: int
    created_at: datetime
    email: str | None = Field(default=None, description="where notices are e-mailed, if the server sends e-mail")


class TokenOut(Out):
    id: int
    name: str
    kind: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class IssuedTokenOut(TokenOut):
    token: str = Field(description="the secret, shown this once: only a digest of it is kept")


class SignInIn(BaseModel):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class SignInOut(BaseModel):
    token: str = Field(description="send as `Authorization: Bearer <token>`")
    expires_at: datetime | None
    user: UserOut


MAX_QUOTA = 10**15  # far above any real balance, far below where refunds could overflow a 64-bit column
Quota = Annotated[int, Field(ge=0, le=MAX_QUOTA), JSON_INTEGER]


class NewUserIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[\w.@+-]+$")
    role: Role = Role.OPERATOR
    quota: Quota = 0
    password: str | None = Field(default=None, min_length=8, max_length=1000)


class NewUserOut(BaseModel):
    user: UserOut
    token: IssuedTokenOut


Email = Annotated[
    str | None,
    Field(
        max_length=EMAIL_MAX_LENGTH,
        pattern=EMAIL_PATTERN,
        description="where notices are e-mailed; null: nowhere. Only a server that sends e-mail takes one",
    ),
]


class UserChangeIn(BaseModel):
    role: Role | None = None
    quota: Quota | None = None
    email: Email = None


class MeChangeIn(BaseModel):
    email: Email = None


class NewTokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class FailedItemOut(BaseModel):
    index: int
    error: str
    at: datetime


class CauseOut(BaseModel):
    cause: str = Field(description="the reason with quoted values, ids and numbers masked")
    count: int
    sample: FailedItemOut = Field(description="the first item that failed for it, with its whole reason")
    indices: list[int] = Field(description="the first few items that failed for it")
    first_seen: datetime | None
    last_seen: datetime | None

    @classmethod
    def of(cls, cause: Cause, *, chinese: bool = False) -> CauseOut:
        """In Chinese when asked and the reason has it (batchyard's own errors do)."""
        s = cause.sample
        in_chinese = chinese and s.error_zh is not None
        error = s.error_zh if in_chinese and s.error_zh is not None else s.error
        return cls(
            cause=cause_of(error) if in_chinese else cause.cause,
            count=cause.count,
            sample=FailedItemOut(index=s.index, error=error, at=s.at),
            indices=cause.indices,
            first_seen=cause.first_seen,
            last_seen=cause.last_seen,
        )


class FailuresOut(BaseModel):
    job_id: int
    failed: int = Field(description="items failed now, over every cause")
    causes: list[CauseOut] = Field(description="the most frequent first")


class TallyOut(BaseModel):
    job_id: int
    succeeded: int
    failed: int
    skipped: int
    outputs: dict[str, int] = Field(
        description="succeeded items by their output, where it is a short text: an import's `inserted` and "
        "`updated` (under `dry_run`, what they would be); the first 20 different words"
    )
    other_outputs: int = Field(description="succeeded items with another short text as output (ids, not words)")
