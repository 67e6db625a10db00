"""The ``migrate`` job type (the seeds' ``Migration.create``): a table or read-only query of another database copied
into a resource, key range by key range, each range written exactly once and verified.

Planning steps along the source's key to cut ranges of equal rows and keeps them as a job file before the first
range is copied: a planner taking over reads them back instead of cutting again. A range is one chunk: a worker
reads it in key order and maps it while loading (outside any transaction), then the chunk's commit writes its
rows (an upsert), its rejected rows and its range row — the range's cursor — in ONE transaction, and compares
the target's rows with the mapped source rows by count and checksum, narrowing a difference down to its keys.
A worker killed mid-range leaves nothing of it; the range is read again. The last item waits for every range
and writes the report (JSON, HTML, rejects CSV).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from threading import Lock
from typing import Any

import orjson
from pydantic import ValidationError

from batchyard.core.context import Completed, Context, RetryLater
from batchyard.core.jobtype import JobType, define_job_type
from batchyard.core.model import Job
from batchyard.core.planning import Segment
from batchyard.core.policies import RATIO_MIN_PROCESSED
from batchyard.core.resources import Resource
from batchyard.errors import (
    DatabaseUnavailable,
    InvalidParams,
    NoReport,
    RangeNotFound,
    TooManyRejects,
    VerificationFailed,
)
from batchyard.jobs.migrate.batches import Plan, RangeBatch, dry_run, read_batch
from batchyard.jobs.migrate.checksums import checksum, differing_keys, key_text, row_hash
from batchyard.jobs.migrate.mapping import compile_mapping
from batchyard.jobs.migrate.params import MigrateParams
from batchyard.jobs.migrate.reports import SHOWN_KEYS, build_report, rejects_csv, report_html, report_json
from batchyard.store.sql.copying import (
    RangeRecord,
    Reject,
    SourceSpec,
    bound_json,
    bound_value,
    check_source,
    claim_keys,
    claims_elsewhere,
    claims_tidied,
    job_rejects,
    job_totals,
    range_records,
    ranges_done,
    record_range,
    source_columns,
    step_bounds,
    target_rows,
    target_rows_between,
)
from batchyard.store.sql.resource_reads import ResourceDatabases
from batchyard.store.sql.resource_rows import resource_table, stored_converters, write_rows
from batchyard.store.sql.rows import load_job
from batchyard.store.sql.source_policy import SourcePolicy

log = logging.getLogger("batchyard.migrate")
PLAN_FILE = "plan.json"
REPORT_WAIT_SECONDS = 0.5
_PLANS_KEPT = 64


@dataclass(frozen=True, slots=True)
class MigrationJobType(JobType):
    """The job type, plus what the API offers for it: the report of a job, and the params of a re-copy."""

    report: Callable[[Job], dict[str, Any]] | None = None
    recopy: Callable[[Job, int], dict[str, Any]] | None = None


class Migrate:
    """迁移 — copy a table or query of another database into a resource, range by range, verified."""

    Params = MigrateParams
    title = "Migrate from a database"

    def __init__(self, resources: Mapping[str, Resource], databases: ResourceDatabases, sources: SourcePolicy) -> None:
        self._resources = resources
        self._databases = databases
        self._sources = sources
        self._plans: dict[str, Plan] = {}
        self._lock = Lock()

    # checking ---------------------------------------------------------------------------------------------------
    def validate(self, params: MigrateParams) -> None:
        """The field map against both schemas (the source's columns read once per process): an unknown column or
        field is refused naming it. A source that cannot be reached just now is checked when planning instead —
        a worker parsing the params of a running job must not fail it for a passing outage."""
        self._resource(params.resource)
        if params.dry_run and params.recopy is not None:
            raise InvalidParams(reason="dry_run: a re-copy writes; it cannot be a dry run")
        if params.recopy is not None:
            self._check_recopied(params)
        try:
            self._plan(params)
        except DatabaseUnavailable as exc:
            log.warning("the source of a migration could not be checked now: %s", exc)

    def _check_recopied(self, params: MigrateParams) -> None:
        """A re-copy names the first migration of what it copies again (the one whose ranges and key claims it
        shares), with the same source, key, resource and map — not any job of anyone's."""
        assert params.recopy is not None
        with self._databases.reading(self._resource(params.resource)) as conn:
            earlier = load_job(conn, params.recopy.job)
            tidied = earlier is not None and claims_tidied(conn, earlier.id)
        if earlier is None or earlier.type != "migrate":
            raise InvalidParams(reason=f"recopy: job {params.recopy.job} is not a migration")
        try:
            first = MigrateParams.model_validate(earlier.params)
        except ValidationError:
            raise InvalidParams(reason=f"recopy: job {params.recopy.job} was made by another version") from None
        same = ("source_url", "source", "key", "resource", "mapping", "drop")
        if first.recopy is not None or first.dry_run or any(getattr(first, f) != getattr(params, f) for f in same):
            raise InvalidParams(reason=f"recopy: job {params.recopy.job} is not the first migration of this source")
        if tidied:
            raise _claims_gone(params.recopy.job)

    def preview(self, params: MigrateParams, ctx: Context) -> dict[str, Any]:
        """The dry run: the first 1,000 rows before and after the map, with every reason a row would fail."""
        return dry_run(self._plan(params))

    # planning ---------------------------------------------------------------------------------------------------
    def source(self, params: MigrateParams, ctx: Context) -> Iterator[Segment]:
        if params.dry_run:
            yield Segment({"dry_run": True}, 1)
            return
        ranges = self._kept_plan(ctx)
        if ranges is None:
            ranges = self._new_plan(params, ctx.owner)
            ctx.save_file(PLAN_FILE, [orjson.dumps(ranges)], "application/json", kind="spool")
        for index, lo, hi in ranges:
            yield Segment({"range": index, "lo": lo, "hi": hi}, 1)
        yield Segment({"report": True, "ranges": len(ranges)}, 1)

    def _kept_plan(self, ctx: Context) -> list[list[Any]] | None:
        """The ranges an earlier planner of this job cut: the same ranges, whatever the source holds now."""
        if not any(f.name == PLAN_FILE for f in ctx.list_files()):
            return None
        with ctx.open_file(PLAN_FILE) as stream:
            kept: list[list[Any]] = orjson.loads(stream.read())
            return kept

    def _new_plan(self, params: MigrateParams, owner: str) -> list[list[Any]]:
        if params.recopy is not None:
            return self._recopied_ranges(params, owner)
        plan = self._plan(params)
        _, bounds = step_bounds(plan.spec, params.range_rows)
        edges = [None, *bounds, None]
        return [[i, bound_json(edges[i]), bound_json(edges[i + 1])] for i in range(len(edges) - 1)]

    def _recopied_ranges(self, params: MigrateParams, owner: str) -> list[list[Any]]:
        """The ranges to copy again, of a migration of the same owner's (the API re-copies in the owner's name)."""
        assert params.recopy is not None
        wanted = sorted(set(params.recopy.ranges))
        with self._databases.reading(self._resource(params.resource)) as conn:
            earlier = load_job(conn, params.recopy.job)
            if earlier is None or earlier.owner != owner:
                raise InvalidParams(reason=f"recopy: job {params.recopy.job} is not a migration of {owner}'s")
            found = range_records(conn, params.recopy.job, wanted)
        missing = sorted(set(wanted) - {r["range"] for r in found})
        if missing:
            raise RangeNotFound(job_id=params.recopy.job, range=missing[0])
        return [[r["range"], bound_json(r["lo"]), bound_json(r["hi"])] for r in found]

    # running ----------------------------------------------------------------------------------------------------
    def load(self, spec: dict[str, Any], ctx: Context) -> list[Any]:
        """A range read and mapped, kept for the commit (its one item then completes without ``process``); the
        dry run done here; the report item handed to ``process``, which waits for the ranges."""
        if spec.get("report"):
            return [spec]
        params: MigrateParams = ctx.params
        plan = self._plan(params)
        if spec.get("dry_run"):
            return self._dry_run(plan, ctx)
        index = int(spec["range"])
        ctx.current = f"range {index + 1}"
        converters = stored_converters(self._databases.state_dialect(), plan.mapping.resource)
        batch = read_batch(plan, index, bound_value(spec["lo"]), bound_value(spec["hi"]), converters)
        if params.copy_rows and batch.keys:  # keys other ranges wrote: rejected now, so the limit counts them
            with self._databases.reading(self._resource(params.resource)) as conn:
                batch.reject_written_elsewhere(
                    claims_elsewhere(conn, _ledger(params, ctx.job_id), index, [key_text(k) for k in batch.keys])
                )
        ctx.state = batch
        if batch.rejects and self._would_pass_limit(params, ctx.job_id, batch):
            self._save_report(ctx, params, status="failed", pending=batch)  # the commit then stops the job
        return Completed([{"range": index}])

    def process(self, item: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """The report item: once every range is committed, the report and its files; a verification that found
        rows differing fails it (and with it the job), after the report is kept."""
        params: MigrateParams = ctx.params
        with self._databases.reading(self._resource(params.resource)) as conn:
            done = ranges_done(conn, ctx.job_id)
        if done < int(item["ranges"]):
            raise RetryLater(f"{int(item['ranges']) - done} ranges are still being copied", REPORT_WAIT_SECONDS)
        report = self._save_report(ctx, params, status="done")
        table = report["tables"][0]
        verify = table["verify"]
        if verify["status"] == "failed":
            raise VerificationFailed(rows=verify["mismatched_rows"], ranges=len(verify["mismatches"]))
        return {k: table[k] for k in ("read", "written", "rejected", "skipped", "rows_per_second")}

    def write(self, outputs: list[Any], ctx: Context) -> dict[int, Any] | None:
        state = ctx.state
        if isinstance(state, RangeBatch):
            return self._commit_range(state, ctx)
        if isinstance(state, dict):  # the dry run: its counts and rejects recorded, nothing written to the target
            record_range(ctx.connection, state["record"], state["rejects"])
        return None

    def _commit_range(self, batch: RangeBatch, ctx: Context) -> dict[int, Any]:
        """In the chunk's commit: the rows, the rejects and the range row together, then the check of what the
        target now holds, and of the job's rejects against its limit."""
        params: MigrateParams = ctx.params
        conn = ctx.connection
        resource = self._resource(params.resource)
        written = 0
        if params.copy_rows:
            if claims_tidied(conn, _ledger(params, ctx.job_id)):  # a retry, or a re-copy let in as they went
                raise _claims_gone(_ledger(params, ctx.job_id))
            claimed = claim_keys(conn, _ledger(params, ctx.job_id), batch.index, [key_text(k) for k in batch.keys])
            if claimed:  # claimed since the load, by a range committed meanwhile
                batch.reject_written_elsewhere(claimed)
        if params.copy_rows and batch.stored:
            done = write_rows(
                conn,
                resource_table(conn, resource),
                columns=[f.name for f in resource.fields],
                key=resource.key,
                rows=batch.stored,
                keys=[(k,) for k in batch.keys],
                update=params.mode == "upsert",
            )
            written = len(done.inserted) + len(done.updated)
        skipped = len(batch.values) - written if params.copy_rows else 0
        record = self._record(ctx.job_id, batch, (written, skipped), self._verified(conn, resource, batch, params))
        record_range(conn, record, batch.rejects)
        read, rejected = job_totals(conn, ctx.job_id)
        if over_limit(params.max_rejects, read=read, rejected=rejected):
            return {0: TooManyRejects(rejected=rejected, limit=params.max_rejects)}
        return {0: {"range": batch.index, "read": batch.read, "written": written, "rejected": len(batch.rejects)}}

    def _verified(self, conn: Any, resource: Resource, batch: RangeBatch, params: MigrateParams) -> Verification:
        if not params.verify:
            return Verification(None, None, None, [], 0)
        source = dict(zip(batch.keys, batch.hashes, strict=True))
        position = [f.name for f in resource.fields].index(resource.key[0])
        if batch.scan_bounds:
            rejected = {r.key for r in batch.rejects}
            found = target_rows_between(conn, resource, batch.lo, batch.hi)
            found = [row for row in found if row[position] in source or str(row[position]) not in rejected]
        else:
            found = target_rows(conn, resource, [(k,) for k in batch.keys])
        target = {row[position]: row_hash(row) for row in found}
        mine, theirs = checksum(source.values()), checksum(target.values())
        keys = [] if mine == theirs else differing_keys(source, target)
        return Verification(mine.count, mine.hex, (theirs.count, theirs.hex), keys, len(keys))

    def _record(self, job_id: int, batch: RangeBatch, counts: tuple[int, int], verified: Verification) -> RangeRecord:
        target = verified.target or (None, None)
        return RangeRecord(
            job_id=job_id,
            range=batch.index,
            lo=batch.lo,
            hi=batch.hi,
            read=batch.read,
            written=counts[0],
            rejected=len(batch.rejects),
            skipped=counts[1],
            source_count=verified.source_count,
            source_sum=verified.source_sum,
            target_count=target[0],
            target_sum=target[1],
            verified=None if verified.source_count is None else not verified.keys,
            mismatches=verified.mismatches,
            mismatched_keys=verified.keys[:SHOWN_KEYS],
            started_at=batch.started_at,
            finished_at=datetime.datetime.now(datetime.UTC),
        )

    def _dry_run(self, plan: Plan, ctx: Context) -> Completed:
        found = dry_run(plan)
        ctx.save_file("dry_run.json", [orjson.dumps(found, option=orjson.OPT_INDENT_2)], "application/json")
        started = datetime.datetime.now(datetime.UTC)
        rejects = [r for r in found["rows"] if r["reasons"]]
        ctx.state = {
            "record": RangeRecord(
                ctx.job_id,
                0,
                None,
                None,
                found["checked"],
                0,
                len(rejects),
                0,
                None,
                None,
                None,
                None,
                None,
                0,
                [],
                started,
                started,
            ),
            "rejects": [_dry_reject(r) for r in rejects],
        }
        return Completed([{k: found[k] for k in ("checked", "valid", "rejected")}])

    def _would_pass_limit(self, params: MigrateParams, job_id: int, batch: RangeBatch) -> bool:
        with self._databases.reading(self._resource(params.resource)) as conn:
            read, rejected = job_totals(conn, job_id)
        return over_limit(params.max_rejects, read=read + batch.read, rejected=rejected + len(batch.rejects))

    # reporting --------------------------------------------------------------------------------------------------
    def _save_report(
        self, ctx: Context, params: MigrateParams, *, status: str, pending: RangeBatch | None = None
    ) -> dict[str, Any]:
        """The report and its files as the job's artifacts (``pending``: a range about to be committed)."""
        with self._databases.reading(self._resource(params.resource)) as conn:
            ranges = range_records(conn, ctx.job_id)
            rejects = list(job_rejects(conn, ctx.job_id))
        if pending is not None:
            ranges.append(_pending_record(ctx.job_id, pending))
            rejects += [
                {"range": pending.index, "key": r.key, "reason": r.reason, "row": r.row} for r in pending.rejects
            ]
        planned = None if pending is not None else len(ranges)
        report = build_report(
            params.model_dump(mode="json"), ranges, rejects, job_id=ctx.job_id, planned=planned, status=status
        )
        ctx.save_file("report.json", [report_json(report)], "application/json", kind="report")
        ctx.save_file("report.html", [report_html(report)], "text/html", kind="report")
        ctx.save_file("rejects.csv", [rejects_csv(rejects)], "text/csv", kind="report")
        return report

    def report(self, job: Job) -> dict[str, Any]:
        """The live report of a migration: what its committed ranges say now, at any point of the job."""
        if job.type != "migrate":
            raise NoReport(job_id=job.id, type=job.type)
        params = MigrateParams.model_validate(job.params)
        with self._databases.reading(self._resource(params.resource)) as conn:
            ranges = range_records(conn, job.id)
            rejects = list(job_rejects(conn, job.id, limit=20))
        planned = 1 if params.dry_run else (job.total - 1 if job.sealed else None)
        return build_report(job.params, ranges, rejects, job_id=job.id, planned=planned, status=str(job.status))

    def recopy_params(self, job: Job, index: int) -> dict[str, Any]:
        """The params of a job that copies range ``index`` of ``job`` again (upserting, then verifying)."""
        params = MigrateParams.model_validate(job.params)
        if params.dry_run:
            raise RangeNotFound(job_id=job.id, range=index)
        with self._databases.reading(self._resource(params.resource)) as conn:
            if not range_records(conn, job.id, [index]):
                raise RangeNotFound(job_id=job.id, range=index)
        raw = params.model_dump(mode="json", by_alias=True)
        first = params.recopy.job if params.recopy is not None else job.id  # a re-copy of a re-copy: the first's
        return {**raw, "mode": "upsert", "copy": True, "verify": True, "recopy": {"job": first, "ranges": [index]}}

    # helpers ----------------------------------------------------------------------------------------------------
    def _plan(self, params: MigrateParams) -> Plan:
        cache_key = params.model_dump_json(exclude={"recopy", "dry_run", "verify", "copy_rows", "mode"})
        with self._lock:
            found = self._plans.get(cache_key)
        if found is not None:
            return found
        self._sources.check(params.source_url)
        spec = SourceSpec(params.source_url, params.source, params.key)
        check_source(spec, state_url=self._databases.state_url())
        columns = tuple(source_columns(spec))
        mapping = compile_mapping(params, self._resource(params.resource), columns)
        plan = Plan(spec, columns, mapping, verify_extra_rows=params.verify_extra_rows)
        with self._lock:
            if len(self._plans) >= _PLANS_KEPT:
                self._plans.clear()
            self._plans[cache_key] = plan
        return plan

    def _resource(self, name: str) -> Resource:
        found = self._resources.get(name)
        if found is None:
            known = ", ".join(sorted(self._resources)) or "none"
            raise InvalidParams(reason=f"there is no resource {name!r} (resources: {known})")
        if found.database_url is not None:
            raise InvalidParams(
                reason=f"the resource {name!r} is in another database; a migration writes only to resources in "
                "batchyard's own database, where each range is written exactly once with its commit"
            )
        return found


@dataclass(frozen=True, slots=True)
class Verification:
    source_count: int | None
    source_sum: str | None
    target: tuple[int, str] | None
    keys: list[Any]
    mismatches: int


def _ledger(params: MigrateParams, job_id: int) -> int:
    """The job whose key claims a migration shares: a re-copy, its first migration's."""
    return params.recopy.job if params.recopy is not None else job_id


def _claims_gone(ledger: int) -> InvalidParams:
    """Without its key claims a range could merge, unseen, a key another range wrote."""
    return InvalidParams(
        reason=f"recopy: the key claims of migration {ledger} were tidied a month after it finished; start a new "
        "migration of the source instead (rows copied already are upserted, not doubled)"
    )


def over_limit(limit: int | float, *, read: int, rejected: int) -> bool:
    """Whether the rejects pass ``max_rejects``: a count, or a ratio of the rows read (judged once 100 are)."""
    if isinstance(limit, float):
        return read >= RATIO_MIN_PROCESSED and rejected / read > limit
    return rejected > limit


def _pending_record(job_id: int, batch: RangeBatch) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "range": batch.index,
        "lo": batch.lo,
        "hi": batch.hi,
        "read": batch.read,
        "written": 0,
        "rejected": len(batch.rejects),
        "skipped": 0,
        "source_count": None,
        "source_sum": None,
        "target_count": None,
        "target_sum": None,
        "verified": None,
        "mismatches": 0,
        "mismatched_keys": [],
        "started_at": batch.started_at,
        "finished_at": datetime.datetime.now(datetime.UTC),
    }


def _reject_dict(index: int, reject: Reject) -> dict[str, Any]:
    return {"range": index, "key": reject.key, "reason": reject.reason, "row": reject.row}


def _dry_reject(row: dict[str, Any]) -> Reject:
    return Reject("" if row["key"] is None else str(row["key"]), row["before"], "; ".join(row["reasons"]))


def migrate_job_type(
    resources: Mapping[str, Resource], databases: ResourceDatabases, sources: SourcePolicy, **overrides: Any
) -> JobType:
    """The ``migrate`` job type over ``resources``, reading the databases ``sources`` allows. A range that cannot
    be read (the source refusing, not away: that is a pause) stops the job, as does passing ``max_rejects``;
    ``retry-failed`` then resumes with the ranges not yet committed. A range may lose its worker ``max_attempts``
    times before it fails."""
    migration = Migrate(resources, databases, sources)
    options: dict[str, Any] = {"on_error": "stop", "max_attempts": 10, **overrides}
    base = define_job_type("migrate", migration, title=Migrate.title, **options)
    values = {f.name: getattr(base, f.name) for f in fields(base)}
    return MigrationJobType(**values, report=migration.report, recopy=migration.recopy_params)
