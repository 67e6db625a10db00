"""Table definitions: the schema that the migrations create and that autogenerate compares against.

A chunk keeps its items, outputs and per-item states as arrays in its own row (one character per item state),
so a 1,000-item chunk is one row written once per commit. Per-item rows exist only for failures.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite only auto-increments INTEGER PRIMARY KEY
UtcTime = DateTime(timezone=True)

jobs = Table(
    "by_jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("type", String(200), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("status", String(32), nullable=False),
    Column("params", Text, nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("max_concurrency", Integer),
    Column("max_lost", Integer, nullable=False),
    # The failure policies the store applies on its own (the reaper failing items of a lost chunk).
    Column("max_failures", Float),
    Column("stop_on_error", Boolean, nullable=False, server_default=false()),
    Column("total", BigInteger, nullable=False, default=0),
    Column("next_seq", Integer, nullable=False, default=0),
    Column("sealed", Boolean, nullable=False, default=False),
    Column("plan_by_worker", Boolean, nullable=False, default=False),
    Column("planner_token", String(64)),
    Column("planner_expires", Float),
    Column("round", Integer, nullable=False, default=1),
    Column("rounds", Text, nullable=False),
    Column("error", Text),
    Column("exclusive_key", String(300)),
    Column("idempotency_key", String(300)),
    Column("unit_cost", BigInteger, nullable=False, server_default="0"),
    Column("prepaid", Boolean, nullable=False, server_default=false()),
    Column("created_at", UtcTime, nullable=False),
    Column("started_at", UtcTime),
    Column("finished_at", UtcTime),
    Column("resource", String(200)),  # the resource an import or export works on, to list them by it
    UniqueConstraint("owner", "idempotency_key"),
    Index(None, "status"),
    Index(None, "owner", "id"),
    Index(None, "resource", "id"),
)

# Counters are split into shards so that many workers committing chunks of one job do not queue on one row;
# a job's progress is the sum of its few shard rows.
COUNTER_SHARDS = 8

job_counters = Table(
    "by_job_counters",
    metadata,
    Column("job_id", Id, ForeignKey("by_jobs.id", ondelete="CASCADE"), nullable=False),
    Column("shard", Integer, nullable=False),
    Column("processed", BigInteger, nullable=False, default=0),
    Column("succeeded", BigInteger, nullable=False, default=0),
    Column("failed", BigInteger, nullable=False, default=0),
    Column("skipped", BigInteger, nullable=False, default=0),
    PrimaryKeyConstraint("job_id", "shard"),
)

# One row per active exclusive key: the primary key makes a second active job with the same key impossible,
# across processes and machines, without any lock held in memory.
exclusive_locks = Table(
    "by_exclusive_locks",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("job_id", Id, ForeignKey("by_jobs.id", ondelete="CASCADE"), nullable=False),
)

# The keys a dry-run import counted as new (digests of the form the database compares), so that a later chunk of
# the same file meets them as the real import would; written in each chunk's commit, tidied a week after the end.
dry_run_keys = Table(
    "by_dry_run_keys",
    metadata,
    Column("job_id", Id, ForeignKey("by_jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", Text, primary_key=True),
)

chunks = Table(
    "by_chunks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job_id", Id, ForeignKey("by_jobs.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("round", Integer, nullable=False, default=1),
    Column("status", String(16), nullable=False),
    Column("first_index", BigInteger, nullable=False),
    Column("size", Integer, nullable=False),
    Column("items", Text, nullable=False),
    Column("keys", Text),
    Column("states", Text, nullable=False),
    Column("outputs", Text),
    Column("attempts", Text),
    Column("lost", Integer, nullable=False, default=0),
    Column("run_after", Float, nullable=False, default=0.0),
    Column("lease_token", String(64)),
    Column("lease_expires", Float),
    Column("claimed_at", Float),
    Column("worker", String(200)),
    Column("current", Text),
    UniqueConstraint("job_id", "seq"),
    # Serves the claim (a job's pending chunks in seq order, the first whose run_after has come) and every
    # "does this job have pending/running chunks" check without a sort over all of a job's pending chunks.
    Index(None, "job_id", "status", "seq", "run_after"),
    Index(None, "status", "lease_expires"),
    Index(None, "job_id", "claimed_at"),
)

item_errors = Table(
    "by_item_errors",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job_id", Id, ForeignKey("by_jobs.id", ondelete="CASCADE"), nullable=False),
    Column("chunk_id", Id, nullable=False),
    Column("round", Integer, nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("error", Text, nullable=False),
    Column("error_zh", Text),  # the reason in Chinese, when it has one
    # For items not stored in their chunk (rows read again from a file): the item as it was, and its place there.
    Column("input", Text),
    Column("ref", BigInteger),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UtcTime, nullable=False),
    Index(None, "job_id", "round", "idx"),
)

DONE_SCOPE_LENGTH, DONE_KEY_LENGTH = 300, 500  # longer ones are stored as a digest (rows.fitted_key)

done_keys = Table(
    "by_done_keys",
    metadata,
    Column("scope", String(DONE_SCOPE_LENGTH), nullable=False),
    Column("key", String(DONE_KEY_LENGTH), nullable=False),
    Column("job_id", Id, nullable=False),
    PrimaryKeyConstraint("scope", "key"),
)

events = Table(
    "by_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job_id", Id, ForeignKey("by_jobs.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("data", Text, nullable=False),
    Column("created_at", UtcTime, nullable=False),
    Index(None, "job_id", "kind", "id"),
)

# People and programs that call the service. A password is kept only as its argon2 hash; a token only as its
# SHA-256 digest (tokens are 256 random bits, so a fast digest cannot be brute-forced; it is looked up by it).
users = Table(
    "by_users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(200)),
    Column("quota", BigInteger, nullable=False, default=0),
    Column("created_at", UtcTime, nullable=False),
    Column("email", String(254)),
)

tokens = Table(
    "by_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("by_users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # "api" (named, until revoked) or "login" (expires)
    Column("created_at", UtcTime, nullable=False),
    Column("expires_at", UtcTime),
    Column("revoked_at", UtcTime),
    Index(None, "user_id"),
)

# Failed sign-ins, one row per (user name or address) and minute: enough to refuse a guesser, shared by every
# API process through the database.
login_failures = Table(
    "by_login_failures",
    metadata,
    Column("subject", String(300), nullable=False),
    Column("minute", BigInteger, nullable=False),
    Column("count", Integer, nullable=False, default=0),
    PrimaryKeyConstraint("subject", "minute"),
)

# The quota ledger: every move of a user's balance is a row, with a key that makes it happen at most once
# (``job:{id}:round:{n}:charge``, ``...:refund``). ``amount`` is signed (charges negative); a user's balance
# always equals the sum of their rows.
ledger = Table(
    "by_ledger",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("by_users.id", ondelete="CASCADE"), nullable=False),
    Column("job_id", Id),
    Column("key", String(200), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    Column("created_at", UtcTime, nullable=False),
    Index(None, "user_id", "id"),
    Index(None, "job_id"),
)

# An inbox entry per finished job of a service user: what the dashboard's bell and `GET /notifications` show.
notifications = Table(
    "by_notifications",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("by_users.id", ondelete="CASCADE"), nullable=False),
    Column("job_id", Id, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("data", Text, nullable=False),
    Column("created_at", UtcTime, nullable=False),
    Column("read_at", UtcTime),
    Index(None, "user_id", "id"),
)

# A user's webhooks. The signing secret is never stored: it is HMAC-SHA256(server secret key,
# "webhook:{id}:{nonce}"), shown once at creation; ``key_id`` fingerprints the key it was derived with. A deleted
# webhook keeps its row (and its deliveries' log) with ``deleted_at`` set.
webhooks = Table(
    "by_webhooks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("by_users.id", ondelete="CASCADE"), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("description", String(200)),
    Column("nonce", String(64), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("created_at", UtcTime, nullable=False),
    Column("deleted_at", UtcTime),
    Index(None, "user_id", "id"),
)

# The outbox and delivery log: one row per notice and target (a webhook, or the user's e-mail address), written
# in the transaction that writes the inbox entry, so a finished job's notices are never lost nor doubled. A
# dispatcher claims a due row by setting ``claimed_until`` (a lease) and ``claim_token`` (the fence its answer
# must carry); ``log`` holds every attempt as a JSON list.
deliveries = Table(
    "by_deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("by_users.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("target_id", Id, nullable=False),
    Column("notification_id", Id, ForeignKey("by_notifications.id", ondelete="CASCADE")),
    Column("event", String(32), nullable=False),
    Column("data", Text, nullable=False),
    Column("recipient", String(254)),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("log", Text, nullable=False),
    Column("next_attempt_at", UtcTime, nullable=False),
    Column("claimed_until", UtcTime),
    Column("claim_token", String(32)),
    Column("last_status_code", Integer),
    Column("last_error", String(500)),
    Column("created_at", UtcTime, nullable=False),
    Column("delivered_at", UtcTime),
    UniqueConstraint("notification_id", "channel", "target_id"),
    Index(None, "status", "next_attempt_at"),
    Index(None, "channel", "target_id", "id"),
)

# Files users sent (``POST /uploads``), kept in the blob store under ``blob_key`` until ``expires_at``; a job
# that uses an upload pushes its expiry out to the artifacts' retention.
uploads = Table(
    "by_uploads",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("owner", String(200), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("blob_key", String(512), nullable=False),
    Column("created_at", UtcTime, nullable=False),
    Column("expires_at", UtcTime, nullable=False),
    Index(None, "owner", "id"),
    Index(None, "expires_at"),
)

# Which uploads a job reads, written with the job: an upload is not swept while a job that reads it is not
# finished, nor for the artifacts' retention after it finished. A link outlives its swept upload, so that a
# retry can tell its files are gone.
job_uploads = Table(
    "by_job_uploads",
    metadata,
    Column("job_id", Id, ForeignKey("by_jobs.id", ondelete="CASCADE"), nullable=False),
    Column("upload_id", Id, nullable=False),
    PrimaryKeyConstraint("job_id", "upload_id"),
    Index(None, "upload_id"),
)

# Files jobs produced: one per item output (``item_index``, replaced when the item runs again) or the job's own
# (an export, an error report: ``item_index`` null).
artifacts = Table(
    "by_artifacts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job_id", Id, ForeignKey("by_jobs.id", ondelete="CASCADE"), nullable=False),
    Column("item_index", BigInteger),
    Column("name", String(255), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("blob_key", String(512), nullable=False),
    Column("created_at", UtcTime, nullable=False),
    Column("expires_at", UtcTime, nullable=False),
    UniqueConstraint("job_id", "item_index", "name"),
    Index(None, "expires_at"),
)

# Cron schedules (decision 0029): the cursor says up to when every slot was decided; a slot row is written once
# (the primary key), so any number of tickers start at most one job per slot.
schedules = Table(
    "by_schedules",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("type", String(200), nullable=False),
    Column("params", Text, nullable=False),
    Column("cron", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("overlap", String(32), nullable=False),
    Column("missed", Text, nullable=False),
    Column("pause_on_failure", Boolean, nullable=False, server_default=false()),
    Column("paused", Boolean, nullable=False, server_default=false()),
    Column("paused_reason", Text),
    Column("cursor_at", UtcTime, nullable=False),
    Column("failure_seen", Id, nullable=False, server_default="0"),
    Column("created_at", UtcTime, nullable=False),
    Column("updated_at", UtcTime, nullable=False),
    UniqueConstraint("owner", "name"),
    Index(None, "paused", "cursor_at"),
)

schedule_slots = Table(
    "by_schedule_slots",
    metadata,
    Column("schedule_id", Id, ForeignKey("by_schedules.id", ondelete="CASCADE"), nullable=False),
    Column("slot_at", UtcTime, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("reason", String(32)),
    Column("job_id", Id),
    Column("count", BigInteger, nullable=False, server_default="1"),
    Column("last_at", UtcTime),
    Column("detail", Text),
    Column("detail_zh", Text),
    Column("decided_at", UtcTime, nullable=False),
    PrimaryKeyConstraint("schedule_id", "slot_at"),
    Index(None, "schedule_id", "outcome"),
)

# bulk_update's before and after images (see jobs/bulk): one per row a job changed, keyed by the row's
# key values as JSON, written in the commit that changes the row so a rollback knows what each row was and became.
# ``applied`` false: staged by an atomic update and not yet published. A rollback logs its own restores here too.
bulk_images = Table(
    "by_bulk_images",
    metadata,
    Column("job_id", Id, ForeignKey("by_jobs.id", ondelete="CASCADE"), nullable=False),
    Column("key", Text, nullable=False),
    Column("old_values", Text, nullable=False),
    Column("new_values", Text, nullable=False),
    Column("applied", Boolean, nullable=False),
    PrimaryKeyConstraint("job_id", "key"),
)

# Which bulk_update a rollback job undid, written with its first restore: an update is rolled back once.
bulk_rollbacks = Table(
    "by_bulk_rollbacks",
    metadata,
    Column("job_id", Id, ForeignKey("by_jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("rollback_of", Id, ForeignKey("by_jobs.id", ondelete="CASCADE"), nullable=False),
    UniqueConstraint("rollback_of"),
)

# migrate's key ranges (see jobs/migrate): one row per range a job copied or verified, written in the commit that
# writes the range's rows, so a range is either done with its counts and checksums or not started. ``lo``/``hi``
# are the range's bounds as JSON (``lo`` excluded, null: open). Sums are 64-bit checksums as hex.
migration_ranges = Table(
    "by_migration_ranges",
    metadata,
    Column("job_id", Id, ForeignKey("by_jobs.id", ondelete="CASCADE"), nullable=False),
    Column("range", Integer, nullable=False),
    Column("lo", Text, nullable=False),
    Column("hi", Text, nullable=False),
    Column("read", BigInteger, nullable=False),
    Column("written", BigInteger, nullable=False),
    Column("rejected", BigInteger, nullable=False),
    Column("skipped", BigInteger, nullable=False),
    Column("source_count", BigInteger),
    Column("source_sum", String(16)),
    Column("target_count", BigInteger),
    Column("target_sum", String(16)),
    Column("verified", Boolean),
    Column("mismatches", BigInteger, nullable=False, server_default="0"),
    Column("mismatched_keys", Text),
    Column("started_at", UtcTime, nullable=False),
    Column("finished_at", UtcTime, nullable=False),
    PrimaryKeyConstraint("job_id", "range"),
)

# migrate's rejected rows: the source row as JSON and why it was not written, replaced with its range's commit.
migration_rejects = Table(
    "by_migration_rejects",
    metadata,
    Column("job_id", Id, ForeignKey("by_jobs.id", ondelete="CASCADE"), nullable=False),
    Column("range", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("key", Text, nullable=False),
    Column("row", Text, nullable=False),
    Column("reason", Text, nullable=False),
    PrimaryKeyConstraint("job_id", "range", "position"),
)

# Which range of a migration wrote each target key, claimed in the range's commit: two source rows whose keys map
# to one target key ("01" and "1" cast to 1) in different ranges would otherwise overwrite each other unseen; the
# second is rejected naming the first's range. A re-copy claims under the job it re-copies.
migration_keys = Table(
    "by_migration_keys",
    metadata,
    Column("job_id", Id, ForeignKey("by_jobs.id", ondelete="CASCADE"), nullable=False),
    Column("key", Text, nullable=False),
    Column("range", Integer, nullable=False),
    PrimaryKeyConstraint("job_id", "key"),
    Index(None, "job_id", "range"),  # a range's commit gives up its earlier claims first
)

# The migrations whose claims housekeeping has begun to delete (marked in the transaction of the first batch): a
# re-copy of one, or a retry of its ranges, would check its keys against a part of them, so it is refused.
migration_claims_tidied = Table(
    "by_migration_claims_tidied",
    metadata,
    Column("job_id", Id, ForeignKey("by_jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("tidied_at", UtcTime, nullable=False),
)
