"""Job types for worker subprocesses that meet what a job's code can throw at them
(``--app tests.support.hardening_apps:yard``): outputs the database cannot hold, params that stopped parsing.

The database comes from ``BATCHYARD_DATABASE_URL``; behaviour is steered by item values.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel
from sqlalchemy import text

from batchyard import Context, Yard

yard = Yard()

HUGE = 2**70  # past 64 bits: JSON as stored cannot hold it
UNSTORABLE = {3: HUGE, 7: object()}


@yard.job("unstorable", chunk_size=5, max_attempts=2)
def unstorable(item: int, ctx: Context) -> object:
    """Squares, except items 3 and 7, whose outputs cannot be stored."""
    return UNSTORABLE.get(item, item * item)


class _Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no text for this")


# chunks of 5: each chunk's last item leaves a label that is not text, the one a worker reports when it commits
LABELS: dict[int, object] = {0: 42, 1: ["a", "b"], 2: "x" * 10_000, 4: {"sku": "A1"}, 9: _Unprintable()}


@yard.job("labelled", chunk_size=5, max_attempts=1)
def labelled(item: int, ctx: Context) -> int:
    """Says what it is doing with whatever its code had in hand (a record, a number, a list, something that cannot
    be printed, a long text) instead of text: people watching see a label; the worker does not mind."""
    ctx.current = LABELS.get(item % 10)
    return item


class Scaled:
    """Multiplies each item by ``factor``: its params must parse for any item to run."""

    class Params(BaseModel):
        factor: int

    def process(self, item: int, ctx: Context) -> int:
        return int(item * ctx.params.factor)


yard.job("scaled", chunk_size=5, max_attempts=2)(Scaled)


class DeferredWriter:
    """Writes each item into ``deferred_rows`` (created by the test, with a constraint checked only at
    COMMIT) inside the chunk's commit."""

    def process(self, item: int, ctx: Context) -> int:
        return item

    def write(self, outputs: list[int], ctx: Context) -> None:
        ctx.connection.execute(text("INSERT INTO deferred_rows (k) VALUES (:k)"), [{"k": k} for k in outputs])


yard.job("deferred", chunk_size=5, max_attempts=2)(DeferredWriter)


def create_deferred_table(yard: Yard, parents: Iterable[int], bad: set[int]) -> None:
    """``deferred_rows`` for the ``deferred`` job type, refusing the ``bad`` items only at COMMIT. PostgreSQL:
    a deferred UNIQUE key that the bad items repeat. SQLite (whose savepoints never check deferred
    constraints): a deferred FOREIGN KEY to ``deferred_parents``, which holds ``parents`` but not the bad ones."""
    with yard.store.db.write() as conn:
        if yard.store.db.is_sqlite:
            conn.execute(text("CREATE TABLE deferred_parents (id INTEGER PRIMARY KEY)"))
            conn.execute(
                text(
                    "CREATE TABLE deferred_rows (k INTEGER REFERENCES deferred_parents (id)"
                    " DEFERRABLE INITIALLY DEFERRED)"
                )
            )
            rows = [{"id": i} for i in parents if i not in bad]
            conn.execute(text("INSERT INTO deferred_parents (id) VALUES (:id)"), rows)
        else:
            conn.execute(
                text(
                    "CREATE TABLE deferred_rows (k INTEGER, CONSTRAINT k_once UNIQUE (k) DEFERRABLE INITIALLY DEFERRED)"
                )
            )
            conn.execute(text("INSERT INTO deferred_rows (k) VALUES (:k)"), [{"k": k} for k in sorted(bad)])
