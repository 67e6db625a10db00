"""What ``write`` says of single items, read by the commit: new outputs for every item (the usual import chunk,
taken in C), a mix of outputs, skips and refusals, and a position that is not one of the batch's."""

from __future__ import annotations

from typing import Any

import pytest
from tests.contract.invariants import assert_counters_match

from batchyard import Context, JobStatus, Skip, Yard


class Says:
    """Items are numbers; ``write`` answers for them as ``answer`` says."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def process(self, item: int, ctx: Context) -> int:
        return item

    def write(self, outputs: list[int], ctx: Context) -> dict[int, Any]:
        return dict(self.answer(outputs))


def test_new_outputs_for_every_item_replace_what_process_gave(yard: Yard) -> None:
    yard.job("all", chunk_size=10)(Says(lambda outputs: {p: f"written {n}" for p, n in enumerate(outputs)}))

    done = yard.run_until_done(yard.submit("all", items=range(25)).id, timeout=30)

    assert (done.status, done.succeeded) == (JobStatus.SUCCEEDED, 25)
    assert [r.output for r in yard.items(done.id)] == [f"written {n}" for n in range(25)]
    assert_counters_match(yard, done.id)


def test_a_mix_of_outputs_skips_and_refusals_is_applied_item_by_item(yard: Yard) -> None:
    def answer(outputs: list[int]) -> dict[int, Any]:
        said: dict[int, Any] = {}
        for p, n in enumerate(outputs):
            if n % 10 == 3:
                said[p] = Skip(f"{n} was there already")
            elif n % 10 == 7:
                said[p] = ValueError(f"{n} is refused")
            elif n % 2 == 0:
                said[p] = f"even {n}"
        return said

    yard.job("mixed", chunk_size=10)(Says(answer))

    done = yard.run_until_done(yard.submit("mixed", items=range(20)).id, timeout=30)

    assert (done.succeeded, done.skipped, done.failed) == (16, 2, 2)
    by_index = {r.index: r for r in yard.items(done.id)}
    assert by_index[4].output == "even 4"
    assert by_index[5].output == 5
    assert by_index[13].status == "skipped"
    assert by_index[17].error == "ValueError: 17 is refused"
    assert_counters_match(yard, done.id)


@pytest.mark.parametrize("position", ["past", -1, 0.0])
def test_a_position_outside_the_batch_fails_its_items_instead_of_landing_elsewhere(
    yard: Yard, position: object
) -> None:
    """Not dropped, not wrapped around to the last item (-1), not taken for another (0.0), in every attempt of
    the bisection too."""
    yard.job("off", chunk_size=4)(Says(lambda outputs: {len(outputs) + 3 if position == "past" else position: "x"}))

    done = yard.run_until_done(yard.submit("off", items=range(4)).id, timeout=30)

    assert (done.succeeded, done.failed) == (0, 4)
    assert all((r.error or "").startswith("IndexError") for r in yard.items(done.id))


def test_the_tally_counts_a_few_words_one_by_one_and_ids_as_others(yard: Yard) -> None:
    yard.job("ids", chunk_size=10)(Says(lambda outputs: {p: f"id-{n}" for p, n in enumerate(outputs)}))
    done = yard.run_until_done(yard.submit("ids", items=range(30)).id, timeout=30)

    tally = yard.tally(done.id)

    assert len(tally["outputs"]) == 20
    assert sum(tally["outputs"].values()) + tally["other_outputs"] == 30
