"""Checksums of mapped rows that both databases agree on, and the bisection that finds the rows that differ.

A row's hash is a 64-bit BLAKE2b digest of its values in a canonical form (a decimal without trailing zeros, an
instant in UTC): a value read back from SQLite or PostgreSQL hashes like the value written. A range's checksum
is its row count and the sum of its rows' hashes modulo 2**64 — order does not matter, so any part of a range
has a checksum of its own, and halving a range whose checksums differ finds each differing key in about
2·log2(n) comparisons.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from hashlib import blake2b
from typing import Any

import orjson

MASK = (1 << 64) - 1


def canonical(value: Any) -> Any:
    """The value as both sides agree on it: a decimal's normal form as text, an instant in UTC without a zone,
    a float by its repr (an integral float as the integer a decimal column may give)."""
    if isinstance(value, Decimal):
        normal = value.normalize()
        return "0" if normal == 0 else format(normal, "f")
    if isinstance(value, datetime.datetime):
        instant = value if value.tzinfo is None else value.astimezone(datetime.UTC).replace(tzinfo=None)
        return instant.isoformat(timespec="microseconds")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value + 0.0)
    return value


def key_text(value: Any) -> str:
    """A target key as text both sides agree on (1.50 and 1.5 the same key), for the ledger of written keys."""
    found = canonical(value)
    return found if isinstance(found, str) else str(found)


_AS_THEY_ARE = frozenset({str, int, bool, type(None)})  # canonical already: no call per value for most cells


def row_hash(values: Sequence[Any]) -> int:
    data = orjson.dumps([v if type(v) in _AS_THEY_ARE else canonical(v) for v in values])
    return int.from_bytes(blake2b(data, digest_size=8).digest(), "big")


@dataclass(frozen=True, slots=True)
class Checksum:
    count: int
    total: int

    @property
    def hex(self) -> str:
        return f"{self.total:016x}"


def checksum(hashes: Iterable[int]) -> Checksum:
    count = total = 0
    for h in hashes:
        count += 1
        total = (total + h) & MASK
    return Checksum(count, total)


def differing_keys(source: dict[Any, int], target: dict[Any, int]) -> list[Any]:
    """The keys whose rows differ (or are on one side only), found by halving the ordered keys while the two
    halves' checksums differ — the way a range is narrowed when its two sides are far apart."""
    keys = sorted(set(source) | set(target), key=_order)
    return _bisect(keys, source, target)


def _bisect(keys: list[Any], source: dict[Any, int], target: dict[Any, int]) -> list[Any]:
    if _side(keys, source) == _side(keys, target):
        return []
    if len(keys) == 1:
        return keys
    middle = len(keys) // 2
    return _bisect(keys[:middle], source, target) + _bisect(keys[middle:], source, target)


def _side(keys: list[Any], hashes: dict[Any, int]) -> Checksum:
    return checksum(hashes[k] for k in keys if k in hashes)


def _order(key: Any) -> tuple[str, Any]:
    """Keys of one type sort as themselves; mixed types (never in one key column) by their type's name first."""
    return (type(key).__name__, key)
