"""A batch written as one block of COPY text must land exactly as psycopg's own row-by-row COPY lands it: same
values, same NULLs, text with tabs, line breaks and backslashes intact — or be left to psycopg."""

from __future__ import annotations

import datetime
import math
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchyard.store.sql.copy_text import copy_text

COLUMNS = "t text, i bigint, f double precision, n numeric, d date"
TEXTS = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=8),
    st.sampled_from(["", "\\", "\\.", "a\tb", "line\nbreak", "cr\r\n", "\\N", "NULL", "价格\\t", " "]),
)
ROWS = st.lists(
    st.tuples(
        st.none() | TEXTS,
        st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.none() | st.floats(allow_nan=False, allow_infinity=False),
        st.none()
        | st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(lambda d: abs(d.adjusted()) < 1000),
        st.none() | st.dates(min_value=datetime.date(1, 1, 1)),
    ),
    min_size=1,
    max_size=12,
)


def _copied(conn: psycopg.Connection[Any], table: str, rows: list[tuple[Any, ...]], *, as_text: bool) -> list[Any]:
    conn.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {table} ({COLUMNS})")
    conn.execute(f"TRUNCATE {table}")
    with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
        if as_text:
            text = copy_text(rows)
            assert text is not None
            copy.write(text)
        else:
            for row in rows:
                copy.write_row(row)
    return conn.execute(f"SELECT * FROM {table}").fetchall()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROWS)
def test_rows_copied_as_one_block_land_as_psycopg_lands_them(postgres_server: str, rows: list[tuple[Any, ...]]) -> None:
    with psycopg.connect(postgres_server) as conn:
        mine = _copied(conn, "by_block", rows, as_text=True)
        theirs = _copied(conn, "by_row", rows, as_text=False)
    assert mine == theirs
    for (_, _, mine_f, _, _), (_, _, theirs_f, _, _) in zip(mine, theirs, strict=True):  # -0.0 == 0.0: the sign too
        assert (mine_f is None and theirs_f is None) or math.copysign(1, mine_f) == math.copysign(1, theirs_f)


@pytest.mark.parametrize(
    "column",
    [
        ["a\x00b"],  # PostgreSQL's text holds no NUL: psycopg refuses it as it always did
        [float("inf")],
        [Decimal("NaN")],
        [True],  # a bool is not an int here
        [datetime.datetime(2024, 1, 31, 10, 0, tzinfo=datetime.UTC)],
        ["a", 1],  # two types in one column
    ],
)
def test_a_column_it_cannot_write_leaves_the_batch_to_psycopg(column: list[Any]) -> None:
    assert copy_text([(value,) for value in column]) is None


def test_nulls_and_escapes_are_written_as_copy_reads_them() -> None:
    assert copy_text([("a\tb\\c", None, Decimal("1.50")), (None, 7, Decimal("2E+3"))]) == (
        "a\\tb\\\\c\t\\N\t1.50\n\\N\t7\t2E+3\n"
    )
