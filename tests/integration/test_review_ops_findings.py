"""Review findings on cron schedules and date-range jobs, on SQLite and PostgreSQL: each test shows a defect by
failing, and its docstring says what goes wrong and what should happen instead. The ticking processes that die
or start at one instant are real subprocesses running this module's ``_child`` entry points."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, model_validator

from batchyard import Context, Yard
from batchyard.core.schedules import NewSchedule, ScheduleChange, Slot, SlotOutcome
from batchyard.core.slot_rules import MissedPolicy, Overlap
from batchyard.core.status import ACTIVE
from batchyard.core.users import Role
from batchyard.errors import InvalidParams
from batchyard.jobs.dates import date_range
from tests.acceptance.helpers import REPO, subprocess_env
from tests.integration.api_helpers import Service, service

API = "/api/v1"
T0 = datetime(2026, 1, 5, 0, 0, 30, tzinfo=UTC)
DIE = "BATCHYARD_REVIEW_DIE_AT_SUBMIT"


# job types ------------------------------------------------------------------------------------------------------
class Stamp(BaseModel):
    label: str = "run"
    scheduled_for: datetime | None = None

    @model_validator(mode="after")
    def _die_when_told(self) -> Self:
        """In a child run with ``DIE`` set, the ticker process dies here: after it claimed the slot, before
        its job exists (a crash, an OOM kill, a power cut at that moment)."""
        if os.environ.get(DIE) and self.scheduled_for is not None:
            os._exit(3)
        return self


def _label(params: Stamp) -> list[str]:
    return [params.label]


class Mortal:
    Params = Stamp
    source = staticmethod(_label)

    def process(self, item: str, ctx: Context) -> str:
        return item


CALENDAR = {"down": False}


class Calendar:
    """A type whose own check asks an outside calendar service, which may be unreachable."""

    Params = Stamp
    source = staticmethod(_label)

    def validate(self, params: Stamp) -> None:
        if CALENDAR["down"]:
            raise ConnectionError("calendar service unreachable")

    def process(self, item: str, ctx: Context) -> str:
        return item


def _declare(yard: Yard) -> Yard:
    yard.job("mortal")(Mortal)
    yard.job("calendar")(Calendar)
    yard.job("nightly", source=lambda params: [1])(lambda item, ctx: item)
    return yard


@pytest.fixture
def yard(database_url: str, tmp_path: Path) -> Iterator[Yard]:
    made = _declare(Yard(database_url, data_dir=tmp_path))
    try:
        yield made
    finally:
        made.close()


def _child(argv: list[str], **env: str) -> subprocess.Popen[bytes]:
    code = f"import sys; from tests.integration.test_review_ops_findings import {argv[0]}; {argv[0]}(*sys.argv[1:])"
    return subprocess.Popen(
        [sys.executable, "-c", code, *argv[1:]], cwd=REPO, env=subprocess_env(**env), stderr=subprocess.PIPE
    )


def _child_tick(url: str, now: str) -> None:
    """One tick of a ticker process (which ``DIE`` may kill mid-tick)."""
    yard = _declare(Yard(url))
    yard.tick_schedules(datetime.fromisoformat(now))
    yard.close()


def _child_store_schedules(url: str, at: str) -> None:
    """What ``batchyard scheduler`` does as it starts (``start_scheduler``): store the app's declared
    schedules; all children do it at the instant ``at``, as schedulers restarted together by a deploy do."""
    yard = _declare(Yard(url))
    yard.schedule("nightly-report", "0 3 * * *", type="nightly", timezone="UTC")
    yard.schedules.listed(owner="nobody")  # connected and migrated before the start line
    while time.time() < float(at):
        pass
    yard.store_schedules()
    yard.close()


def _active_runs(yard: Yard, schedule_id: int) -> list[int]:
    slots = yard.store.schedules.slots(schedule_id, outcomes=[SlotOutcome.STARTED], limit=1000)
    active = {status.value for status in ACTIVE}
    return [s.job_id for s in slots if s.job_id is not None and yard.get(s.job_id).status in active]


# schedules ------------------------------------------------------------------------------------------------------
def test_a_declared_schedule_whose_type_changes_is_brought_back_to_its_declaration(yard: Yard) -> None:
    """Defect: ``ScheduleService.declare`` (service/schedules.py:51-68) compares ``type`` to decide whether the
    stored schedule differs, but ``ScheduleChange`` has no ``type`` and the store never updates it: an app that
    changes a declared schedule's job type keeps starting the old type forever (and re-writes the row at every
    scheduler start). Expected, as ``Yard.schedule`` documents: the stored schedule is "kept as declared"."""
    yard.schedule("daily", "0 3 * * *", type="mortal", timezone="UTC")
    yard.store_schedules()
    yard._declared_schedules.clear()  # the next release of the app: the same schedule, another job type
    yard.schedule("daily", "0 3 * * *", type="nightly", timezone="UTC")
    (stored,) = yard.store_schedules()
    assert yard.schedules.get(stored.id).type == "nightly"


def test_schedulers_started_together_all_come_up_with_the_declared_schedule(yard: Yard, database_url: str) -> None:
    """Defect: ``declare`` (service/schedules.py:51) lists the owner's schedules, then creates the missing one
    in another transaction; schedulers started together (a deploy restarting several ``batchyard scheduler``
    and ``serve`` processes — "run as many as you like") all find it missing, and every one but the first dies
    at start with ``ScheduleExists`` (or the unique index's ``IntegrityError``). Expected: each scheduler comes
    up and finds the schedule the first one created (a create that loses the race re-reads and uses it)."""
    at = str(time.time() + 20)
    children = [_child(["_child_store_schedules", database_url, at]) for _ in range(6)]
    errors = []
    for child in children:
        _, err = child.communicate(timeout=120)
        if child.returncode != 0:
            errors.append(err.decode().strip().splitlines()[-1])
    assert errors == []
    assert [s.name for s in yard.schedules.listed(owner="system")] == ["nightly-report"]


def test_a_schedule_whose_submit_raises_does_not_stop_every_other_schedule(yard: Yard) -> None:
    """Defect: ``ScheduleService.tick`` (service/schedules.py:120-129) catches only ``ScheduleNotFound`` and
    ``_start`` (service/schedules.py:215) only ``BatchyardError``; any other exception from a submit (a job
    type's own check reaching an outside service that is down, a source planned at submit failing) leaves the
    slot ``claimed`` and ends the whole tick. Its cursor never moves, so ``due()`` (ordered by cursor) hands it
    out first at every tick, and once the claim is 60 s old ``_restart_stale_claims`` raises again at every
    tick (on PostgreSQL even sooner, see the claim test below): no schedule behind it starts again. The loop
    (engine/scheduler.py:34) logs and ticks again, as this test does. Expected: the failure is confined to its
    schedule (the slot refused or retried later) and the other schedules keep running."""
    now = datetime.now(UTC)
    broken = NewSchedule("calendar", "ops", "calendar", {}, "* * * * *", "UTC", Overlap.ALLOW)
    healthy = NewSchedule("healthy", "ops", "mortal", {}, "* * * * *", "UTC", Overlap.ALLOW)
    yard.schedules.create(broken, now=now - timedelta(minutes=10))
    fine = yard.schedules.create(healthy, now=now - timedelta(minutes=5))
    CALENDAR["down"] = True
    try:
        for seconds in (0, 1, 70, 71, 72):
            with contextlib.suppress(ConnectionError):  # what SchedulerLoop.tick_once does: log, tick again
                yard.tick_schedules(now + timedelta(seconds=seconds))
    finally:
        CALENDAR["down"] = False
    started = {s.slot_at for s in yard.store.schedules.slots(fine.id, outcomes=[SlotOutcome.STARTED])}
    assert (now + timedelta(seconds=72)).replace(second=0, microsecond=0) in started


def test_a_slot_is_claimed_by_one_ticker_only(yard: Yard) -> None:
    """Defect (PostgreSQL): ``SqlSchedules.claim_slot`` (store/sql/schedules.py:116-120) reads the INSERT … ON
    CONFLICT DO NOTHING's ``rowcount``, which SQLAlchemy 2.1 with psycopg reports as -1 for a Core insert, so
    every claim "wins", even of a slot decided long ago. The one-decision-per-slot rule of decision 0029 then
    rests on the idempotency key alone: two tickers holding the same snapshot both act (one skips the slot,
    the other starts it and overwrites the row), a tick aborted after a claim re-submits at once, skipped
    slots are counted again. Expected: the second claim of a slot is refused (use ``RETURNING`` or
    ``preserve_rowcount``), as on SQLite."""
    schedule = yard.schedules.create(_new_minutely("claims"), now=T0)
    slot = T0.replace(second=0) + timedelta(minutes=1)
    first = yard.store.schedules.claim_slot(Slot(schedule.id, slot, SlotOutcome.SKIPPED, "previous_running"))
    second = yard.store.schedules.claim_slot(Slot(schedule.id, slot, SlotOutcome.CLAIMED))
    assert (first, second) == (True, False)


def _new_minutely(name: str) -> NewSchedule:
    return NewSchedule(name, "ops", "mortal", {}, "* * * * *", "UTC", Overlap.ALLOW)


def test_a_claim_restarted_after_its_ticker_died_respects_overlap_skip(yard: Yard, database_url: str) -> None:
    """Defect: a slot a dead ticker left ``claimed`` has no job yet, so ``runs_in_flight``
    (store/sql/schedules.py:155) does not count it, and the next ticks start the latest slot; 60 s later
    ``_restart_stale_claims`` (service/schedules.py:161) submits the old claimed slot unconditionally. With
    ``overlap="skip"`` (and ``latest_once``, which superseded that slot) two runs of the schedule are then
    active at once, the older slot's run started after the newer one's. Expected: at most one run active under
    ``overlap="skip"`` — a restarted claim is decided by the overlap policy, or a claimed slot counts as in
    flight."""
    now = datetime.now(UTC).replace(microsecond=0)
    new = NewSchedule("minutely", "ops", "mortal", {}, "* * * * *", "UTC", Overlap.SKIP, MissedPolicy("latest_once"))
    schedule = yard.schedules.create(new, now=now - timedelta(minutes=5))
    dying = _child(["_child_tick", database_url, (now - timedelta(minutes=4)).isoformat()], **{DIE: "1"})
    _, err = dying.communicate(timeout=120)
    assert dying.returncode == 3, err.decode()[-2000:]
    (claimed,) = yard.store.schedules.slots(schedule.id, outcomes=[SlotOutcome.CLAIMED])
    assert claimed.decided_at is not None
    yard.tick_schedules(claimed.decided_at + timedelta(seconds=10))  # a claim in hand counts as a run in flight
    assert _active_runs(yard, schedule.id) == []
    yard.tick_schedules(claimed.decided_at + timedelta(seconds=70))  # the claim is stale: decided again, started
    assert len(_active_runs(yard, schedule.id)) == 1
    yard.tick_schedules(claimed.decided_at + timedelta(seconds=130))  # later slots meet that run: skipped
    assert len(_active_runs(yard, schedule.id)) == 1
    skipped = yard.store.schedules.slots(schedule.id, outcomes=[SlotOutcome.SKIPPED])
    assert skipped
    assert {s.reason for s in skipped} <= {"previous_running", "superseded"}


def test_ticking_with_a_local_time_decides_every_slot(yard: Yard) -> None:
    """Defect (SQLite): the schedule store binds aware datetimes as they are (``advance``, ``due``,
    ``create(now=)``, ``set_paused(resume_at=)``, ``slots(before=)`` in store/sql/schedules.py), and SQLite's
    DATETIME keeps the wall-clock digits and drops the offset. ``yard.tick_schedules(now)`` with an aware local
    time (Asia/Shanghai, the default zone of schedules) stores the cursor 8 hours ahead, so ``due`` skips the
    schedule and the hourly slots in between are never decided (4 of 5 runs lost). Expected: instants are
    normalised to UTC before they reach the database, as on PostgreSQL."""
    hourly = NewSchedule("hourly", "ops", "mortal", {}, "0 * * * *", "UTC", Overlap.ALLOW)
    schedule = yard.schedules.create(hourly, now=T0)
    shanghai = ZoneInfo("Asia/Shanghai")
    for hours in range(1, 6):
        yard.tick_schedules((T0 + timedelta(hours=hours)).astimezone(shanghai))
    runs = yard.store.schedules.slots(schedule.id, outcomes=[SlotOutcome.STARTED])
    assert sorted(s.slot_at.hour for s in runs) == [1, 2, 3, 4, 5]


# over HTTP ------------------------------------------------------------------------------------------------------
@pytest.fixture
def svc(database_url: str) -> Iterator[Service]:
    with service(database_url) as made:
        made.add_user("olga", Role.OPERATOR)
        made.add_user("root", Role.ADMIN)
        yield made


def _create(svc: Service, caller: str, **body: Any) -> dict[str, Any]:
    sent = {"name": "nightly", "type": "nightly", "cron": "0 2 * * *", "timezone": "UTC", **body}
    response = svc.client.post(f"{API}/schedules", json=sent, headers=svc.headers(caller))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_renaming_a_schedule_to_a_name_in_use_is_a_conflict(svc: Service) -> None:
    """Defect: ``PATCH /schedules/{id}`` with a ``name`` the owner already uses reaches the unique index
    (``SqlSchedules.change``, store/sql/schedules.py:57) with no check, and the ``IntegrityError`` escapes as a
    500. Expected: 409 ``schedule_exists``, as a create with that name gets (and as the route documents)."""
    _create(svc, "olga", name="first")
    second = _create(svc, "olga", name="second")
    response = svc.client.patch(f"{API}/schedules/{second['id']}", json={"name": "first"}, headers=svc.headers("olga"))
    assert (response.status_code, response.json()["error"]["code"]) == (409, "schedule_exists")


def test_slots_before_an_instant_with_an_offset_are_those_before_that_instant(svc: Service) -> None:
    """Defect (SQLite): ``GET /schedules/{id}/slots?before=`` keeps the offset the caller gave and the store
    binds it as is; SQLite compares its wall-clock digits with the UTC ones stored, so ``before`` 08:07+08:00
    (00:07 UTC) returns the 00:10 slot too. Expected: the slots before that instant (only 00:05)."""
    created = _create(svc, "olga", cron="*/5 * * * *", overlap="allow")
    svc.yard.store.schedules.change(created["id"], ScheduleChange(), cursor_at=T0)
    for minutes in (5, 10):
        svc.yard.tick_schedules(T0 + timedelta(minutes=minutes))
    page = svc.client.get(
        f"{API}/schedules/{created['id']}/slots",
        params={"before": "2026-01-05T08:07:00+08:00"},
        headers=svc.headers("olga"),
    ).json()
    assert [s["slot_at"] for s in page["slots"]] == ["2026-01-05T00:05:00Z"]


def test_a_schedule_of_a_user_made_a_viewer_no_longer_starts_jobs_as_them(svc: Service) -> None:
    """Defect: a schedule submits its runs as its owner through ``JobService.submit`` (service/schedules.py:209),
    which knows nothing of roles; an operator demoted to viewer (who gets 403 on ``POST /jobs`` and on every
    schedule action) keeps starting jobs as themselves, on their quota, every slot. Expected: a run of a
    schedule whose owner may no longer act is refused (recorded with its reason) rather than started."""
    created = _create(svc, "olga", cron="*/5 * * * *", overlap="allow")
    svc.yard.store.schedules.change(created["id"], ScheduleChange(), cursor_at=T0)
    demoted = svc.client.patch(
        f"{API}/users/{svc.user_ids['olga']}", json={"role": "viewer"}, headers=svc.headers("root")
    )
    assert demoted.status_code == 200, demoted.text
    assert svc.client.post(f"{API}/jobs", json={"type": "nightly"}, headers=svc.headers("olga")).status_code == 403
    svc.yard.tick_schedules(T0 + timedelta(minutes=5))
    assert svc.yard.store.list_jobs(type="nightly", limit=10) == []


# date ranges ----------------------------------------------------------------------------------------------------
def test_a_date_param_must_be_written_as_year_month_day(database_url: str, tmp_path: Path) -> None:
    """Defect (low): ``_date_param`` (jobs/dates.py:84) means to take ``YYYY-MM-DD`` only (its ``len == 10``
    guard and every message say so) but hands any ten characters to ``date.fromisoformat``, which on Python
    3.11 also reads ISO week dates: ``"2025-W01-1"`` is taken as 2024-12-30. A function-form job (no params
    model) keeps ``"2025-W01-1"`` in its params while its items start in 2024, and a key template on
    ``{params.start}`` (exclusive, skip_done scope) sees two spellings of one range. Expected: 422
    ``invalid_params`` naming ``start``, as for ``"20250101"``."""
    yard = Yard(database_url, data_dir=tmp_path)
    yard.job("days", source=date_range("start", "end", max_days=30))(lambda day, ctx: day.isoformat())
    try:
        with pytest.raises(InvalidParams, match="start"):
            yard.submit("days", params={"start": "2025-W01-1", "end": "2025-01-03"})
    finally:
        yard.close()
