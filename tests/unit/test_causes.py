"""Failures grouped by cause: what varies from item to item is masked, the rest is the cause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from batchyard.core.causes import Failure, cause_of, group_failures

T0 = datetime(2026, 11, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("reason", "cause"),
    [
        ("row 17: 'abc' is not a valid price", "row <n>: '…' is not a valid price"),
        ('row 9,031: "12,5" is not a valid price', "row <n>: '…' is not a valid price"),
        ("order 3f2b9c1e-8a7d-4e6f-9b0a-1c2d3e4f5a6b not found", "order <id> not found"),
        ("blob deadbeefcafe0123 missing", "blob <id> missing"),
        ("timeout after 30.5 s at 12:00:01", "timeout after <n> s at <n>"),
        ("商品编码 “SKU-001” 已存在", "商品编码 '…' 已存在"),
        ("ValueError: item -4 is negative", "ValueError: item <n> is negative"),
        ("  spaced   out  ", "spaced out"),
        ("connection refused", "connection refused"),
    ],
)
def test_what_varies_is_masked(reason: str, cause: str) -> None:
    assert cause_of(reason) == cause


def test_forty_thousand_failures_read_as_their_three_causes() -> None:
    reasons = ["row {i}: '{i}x' is not a valid price", "row {i}: sku 'S{i}' already exists", "network down"]
    failures = [Failure(i, reasons[i % 7 % 3].format(i=i), T0 + timedelta(seconds=i)) for i in range(40_000)]
    causes = group_failures(failures)
    assert [c.cause for c in causes] == [
        "row <n>: '…' is not a valid price",
        "row <n>: sku '…' already exists",
        "network down",
    ]
    assert sum(c.count for c in causes) == 40_000
    first = causes[0]
    assert first.sample == failures[0]
    assert first.indices == [0, 3, 6, 7, 10]
    assert (first.first_seen, first.last_seen) == (T0, T0 + timedelta(seconds=39_998))
