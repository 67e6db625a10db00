"""Schedules over HTTP: created by operators as themselves, read only by their owner or an admin (another
user's is 404), checked at create (cron, zone, type, params: 422 naming the part), previewed, paused and
resumed, and their slots listed with reasons in the caller's language."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from batchyard.core.users import Role
from tests.integration.api_helpers import Service, service

API = "/api/v1"


@pytest.fixture
def svc(database_url: str) -> Iterator[Service]:
    with service(database_url) as made:
        made.add_user("olga", Role.OPERATOR)
        made.add_user("pete", Role.OPERATOR)
        made.add_user("vera", Role.VIEWER)
        made.add_user("root", Role.ADMIN)
        yield made


def _create(svc: Service, caller: str, **body: object) -> dict[str, object]:
    sent = {"name": "nightly", "type": "nightly", "cron": "0 2 * * *", "timezone": "Asia/Shanghai", **body}
    response = svc.client.post(f"{API}/schedules", json=sent, headers=svc.headers(caller))
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def test_a_schedule_is_created_with_its_next_five_fire_times_and_only_its_owner_sees_it(svc: Service) -> None:
    created = _create(
        svc, "olga", overlap="buffer_one", missed={"kind": "catch_up_all", "window_seconds": 3600, "max": 2}
    )
    assert (created["owner"], created["overlap"], created["paused"]) == ("olga", "buffer_one", False)
    assert created["missed"] == {"kind": "catch_up_all", "window_seconds": 3600, "max": 2}
    fire = [datetime.fromisoformat(str(t)) for t in created["next"]]  # type: ignore[attr-defined]
    assert len(fire) == 5
    assert all(t.astimezone(UTC).time().isoformat() == "18:00:00" for t in fire)  # 02:00 in Shanghai
    assert all(b - a == timedelta(days=1) for a, b in pairwise(fire))
    path = f"{API}/schedules/{created['id']}"
    assert svc.client.get(path, headers=svc.headers("pete")).status_code == 404
    assert svc.client.get(path, headers=svc.headers("root")).status_code == 200
    assert [s["id"] for s in svc.client.get(f"{API}/schedules", headers=svc.headers("pete")).json()] == []
    assert [s["id"] for s in svc.client.get(f"{API}/schedules", headers=svc.headers("root")).json()] == [created["id"]]
    assert svc.client.delete(path, headers=svc.headers("pete")).status_code == 404
    assert svc.client.post(f"{path}/pause", headers=svc.headers("vera")).status_code == 403


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"cron": "61 * * * *"}, "minute"),
        ({"cron": "* * * * * *"}, "seconds"),
        ({"timezone": "Mars/Olympus"}, "Mars/Olympus"),
        ({"type": "greet"}, "greet"),  # needs items from its submitter
        ({"type": "nope"}, "nope"),
        ({"missed": {"kind": "catch_up_all", "max": 0, "window_seconds": 60}}, "max"),
        ({"overlap": "sometimes"}, "overlap"),
    ],
)
def test_a_wrong_schedule_is_refused_naming_what_is_wrong(svc: Service, body: dict[str, object], names: str) -> None:
    sent = {"name": "n", "type": "nightly", "cron": "0 2 * * *", **body}
    response = svc.client.post(f"{API}/schedules", json=sent, headers=svc.headers("olga"))
    assert response.status_code == 422, response.text
    assert names in response.text
    zh = svc.client.post(f"{API}/schedules", json=sent, headers=svc.headers("olga", **{"Accept-Language": "zh-CN"}))
    assert zh.status_code == 422
    assert svc.client.get(f"{API}/schedules", headers=svc.headers("olga")).json() == []


def test_a_name_is_unique_per_owner(svc: Service) -> None:
    _create(svc, "olga")
    again = svc.client.post(
        f"{API}/schedules",
        json={"name": "nightly", "type": "nightly", "cron": "0 3 * * *"},
        headers=svc.headers("olga"),
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "schedule_exists")
    _create(svc, "pete")  # another owner may use the name


def test_preview_pause_resume_edit_and_slots_with_reasons(svc: Service) -> None:
    preview = svc.client.post(
        f"{API}/schedules/preview", json={"cron": "0 9 * * 1", "timezone": "Europe/Berlin"}, headers=svc.headers("vera")
    )
    assert preview.status_code == 200
    assert all(datetime.fromisoformat(t).weekday() == 0 for t in preview.json()["next"])
    created = _create(svc, "olga", cron="* * * * *", timezone="UTC", missed="latest_once")
    path = f"{API}/schedules/{created['id']}"
    paused = svc.client.post(f"{path}/pause", json={"reason": "month end"}, headers=svc.headers("olga")).json()
    assert (paused["paused"], paused["paused_reason"]) == (True, "month end")
    assert svc.client.post(f"{path}/resume", headers=svc.headers("olga")).json()["paused"] is False
    edited = svc.client.patch(path, json={"cron": "*/5 * * * *"}, headers=svc.headers("olga"))
    assert (edited.status_code, edited.json()["cron"]) == (200, "*/5 * * * *")
    later = datetime.now(UTC) + timedelta(minutes=16)
    svc.yard.tick_schedules(later)
    slots = svc.client.get(f"{path}/slots", headers=svc.headers("olga", **{"Accept-Language": "zh-CN"})).json()
    outcomes = [(s["outcome"], s["reason"]) for s in slots["slots"]]
    assert outcomes[0] == ("started", None)
    assert set(outcomes[1:]) == {("skipped", "superseded")}
    assert slots["slots"][1]["reason_text"].startswith("已被取代")
    got = svc.client.get(path, headers=svc.headers("olga")).json()
    assert got["slots"]["started"] == 1
    assert svc.client.delete(path, headers=svc.headers("olga")).status_code == 204
    assert svc.client.get(path, headers=svc.headers("olga")).status_code == 404
