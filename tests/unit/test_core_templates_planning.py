"""Key templates, cutting items into chunk batches, and bisecting a failing batch."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence

import pytest

from batchyard.core import planning
from batchyard.core.planning import ITEMS_PER_BATCH, bisect_failures, cut_chunks
from batchyard.core.templates import render_key
from batchyard.errors import InvalidJobType


def test_render_key_fills_type_owner_and_params() -> None:
    key = render_key("{owner}:import:{params.resource}", type_name="import", owner="alice", params={"resource": "sku"})
    assert key == "alice:import:sku"
    assert render_key("{type}/{owner}", type_name="export", owner="bob", params={}) == "export/bob"
    assert render_key("quotes-sync", type_name="sync", owner="bob", params={"x": 1}) == "quotes-sync"
    assert render_key("{params.n}-{params.n}", type_name="t", owner="o", params={"n": 7}) == "7-7"


def test_render_key_refuses_a_missing_param() -> None:
    with pytest.raises(InvalidJobType) as raised:
        render_key("{params.region}", type_name="sync", owner="alice", params={})
    assert raised.value.details["name"] == "sync"


def test_render_key_keeps_literal_text_verbatim() -> None:
    key = render_key("exports.params.{owner}", type_name="export", owner="alice", params={})
    assert key == "exports.params.alice"


def test_render_key_refuses_an_unknown_field_with_a_batchyard_error() -> None:
    with pytest.raises(InvalidJobType):
        render_key("{tenant}:sync", type_name="sync", owner="alice", params={})


def test_cut_chunks_slices_items_in_order_with_indices_and_seqs() -> None:
    [batch] = list(cut_chunks(range(10), chunk_size=3))
    assert [c.items for c in batch] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert [c.seq for c in batch] == [0, 1, 2, 3]
    assert [c.first_index for c in batch] == [0, 3, 6, 9]
    assert [c.states for c in batch] == ["---", "---", "---", "-"]
    assert all(c.keys is None for c in batch)


def test_cut_chunks_continues_from_given_index_and_seq() -> None:
    [batch] = list(cut_chunks(["a", "b", "c"], chunk_size=2, first_index=40, first_seq=8))
    assert [(c.seq, c.first_index, c.items) for c in batch] == [(8, 40, ["a", "b"]), (9, 42, ["c"])]


def test_cut_chunks_of_nothing_yields_nothing() -> None:
    assert list(cut_chunks([], chunk_size=5)) == []


def test_cut_chunks_batches_about_items_per_batch_items() -> None:
    chunk_size = ITEMS_PER_BATCH // 4
    batches = list(cut_chunks(range(ITEMS_PER_BATCH * 2 + 1), chunk_size=chunk_size))
    assert [len(b) for b in batches] == [4, 4, 1]
    assert [sum(len(c.items) for c in b) for b in batches] == [ITEMS_PER_BATCH, ITEMS_PER_BATCH, 1]
    seqs = [c.seq for b in batches for c in b]
    assert seqs == list(range(9))


def test_cut_chunks_with_chunks_bigger_than_a_batch_stores_one_chunk_per_batch() -> None:
    batches = list(cut_chunks(range(ITEMS_PER_BATCH * 3), chunk_size=ITEMS_PER_BATCH * 2))
    assert [len(b) for b in batches] == [1, 1]


def test_cut_chunks_is_lazy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planning, "ITEMS_PER_BATCH", 10)
    pulled: list[int] = []

    def endless() -> Iterator[int]:
        for i in itertools.count():
            pulled.append(i)
            yield i

    batches = cut_chunks(endless(), chunk_size=5)
    first = next(batches)
    assert [c.items for c in first] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    assert len(pulled) == 10, "only the items of the first batch were read"


def test_cut_chunks_marks_items_already_done_as_skipped() -> None:
    asked: list[list[str]] = []

    def already_done(keys: Sequence[str]) -> set[str]:
        asked.append(list(keys))
        return {k for k in keys if int(k[1:]) % 3 == 0}

    [batch] = list(cut_chunks(range(7), chunk_size=4, key=lambda i: f"k{i}", already_done=already_done))
    assert [c.keys for c in batch] == [["k0", "k1", "k2", "k3"], ["k4", "k5", "k6"]]
    assert [c.states for c in batch] == ["k--k", "--k"]
    assert asked == [["k0", "k1", "k2", "k3"], ["k4", "k5", "k6"]]


def test_cut_chunks_without_done_keys_leaves_all_pending() -> None:
    [batch] = list(cut_chunks(range(3), chunk_size=3, key=str, already_done=lambda keys: set()))
    assert batch[0].states == "---"
    assert batch[0].keys == ["0", "1", "2"]


def _failing_on(bad: set[int], calls: list[tuple[int, ...]]) -> Callable[[Sequence[int]], BaseException | None]:
    def attempt(indices: Sequence[int]) -> BaseException | None:
        calls.append(tuple(indices))
        hit = bad.intersection(indices)
        return ValueError(f"bad {sorted(hit)}") if hit else None

    return attempt


def test_bisect_finds_nothing_when_the_batch_succeeds() -> None:
    calls: list[tuple[int, ...]] = []
    assert bisect_failures(list(range(1000)), _failing_on(set(), calls)) == {}
    assert len(calls) == 1


def test_bisect_isolates_one_bad_item_in_about_two_log_n_attempts() -> None:
    calls: list[tuple[int, ...]] = []
    failures = bisect_failures(list(range(1000)), _failing_on({777}, calls))
    assert list(failures) == [777]
    assert str(failures[777]) == "bad [777]"
    assert len(calls) <= 1 + 2 * 10


def test_bisect_isolates_several_bad_items() -> None:
    calls: list[tuple[int, ...]] = []
    bad = {0, 13, 500, 999}
    failures = bisect_failures(list(range(1000)), _failing_on(bad, calls))
    assert set(failures) == bad
    assert all(isinstance(e, ValueError) for e in failures.values())


def test_bisect_of_a_single_failing_item_costs_one_attempt() -> None:
    calls: list[tuple[int, ...]] = []
    assert set(bisect_failures([5], _failing_on({5}, calls))) == {5}
    assert calls == [(5,)]


def test_bisect_keeps_the_error_each_item_failed_with() -> None:
    def attempt(indices: Sequence[int]) -> BaseException | None:
        if len(indices) == 1 and indices[0] % 2:
            return KeyError(indices[0])
        return None if len(indices) == 1 else RuntimeError("batch")

    failures = bisect_failures([1, 2, 3, 4], attempt)
    assert {i: type(e) for i, e in failures.items()} == {1: KeyError, 3: KeyError}
