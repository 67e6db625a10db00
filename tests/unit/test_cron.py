"""Cron schedules: validation, fire times in a time zone across DST changes, and the missed-run and overlap rules."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter  # type: ignore[import-untyped]  # no py.typed marker
from hypothesis import given, settings
from hypothesis import strategies as st

from batchyard.core.cron import (
    count_fire_times,
    fire_times_between,
    latest_fire_times,
    next_fire_times,
    validate_cron,
    validate_timezone,
)
from batchyard.core.slot_rules import (
    REASON_LABELS,
    MissedPolicy,
    Overlap,
    OverlapAction,
    SlotDecision,
    decide_missed,
    decide_overlap,
    missed_runs,
)
from batchyard.errors import InvalidSchedule


def utc(year: int, month: int, day: int, *time_of_day: int) -> datetime:
    hour, minute, second = (*time_of_day, 0, 0, 0)[:3]
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local_dates(fires: list[datetime], zone: str) -> Counter[date]:
    return Counter(fire.astimezone(ZoneInfo(zone)).date() for fire in fires)


def fires_over_local_days(expr: str, zone: str, first: date, last: date) -> list[datetime]:
    tz = ZoneInfo(zone)
    start = datetime(first.year, first.month, first.day, tzinfo=tz) - timedelta(microseconds=1)
    end = datetime(last.year, last.month, last.day, 23, 59, 59, tzinfo=tz)
    return list(fire_times_between(expr, zone, start, end))


# --- DST ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
@pytest.mark.parametrize(
    ("first", "last"), [(date(2026, 3, 1), date(2026, 4, 15)), (date(2026, 10, 15), date(2026, 11, 15))]
)
def test_a_daily_schedule_fires_once_every_local_day_across_dst(zone: str, first: date, last: date) -> None:
    fires = fires_over_local_days("30 2 * * *", zone, first, last)
    days = (last - first).days + 1
    assert len(fires) == days
    assert local_dates(fires, zone) == Counter(first + timedelta(days=n) for n in range(days))
    assert all(earlier < later for earlier, later in pairwise(fires))


@pytest.mark.parametrize(
    ("zone", "gap_day", "before", "on_gap_day", "after"),
    [
        # Berlin jumps 02:00 CET -> 03:00 CEST on 29 March 2026: 02:30 does not exist, it fires at 03:30 CEST.
        ("Europe/Berlin", date(2026, 3, 29), utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)),
        # New York jumps 02:00 EST -> 03:00 EDT on 8 March 2026: 03:30 EDT is 07:30 UTC.
        ("America/New_York", date(2026, 3, 8), utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30)),
    ],
)
def test_a_time_in_the_spring_forward_gap_fires_at_the_first_instant_after_the_gap(
    zone: str, gap_day: date, before: datetime, on_gap_day: datetime, after: datetime
) -> None:
    fires = fires_over_local_days("30 2 * * *", zone, gap_day - timedelta(days=1), gap_day + timedelta(days=1))
    assert fires == [before, on_gap_day, after]
    assert on_gap_day.astimezone(ZoneInfo(zone)).strftime("%H:%M") == "03:30"


def test_a_time_in_the_fall_back_overlap_fires_once_at_its_first_occurrence() -> None:
    # Berlin goes 03:00 CEST -> 02:00 CET on 25 October 2026: 02:30 happens at 00:30 UTC and again at 01:30 UTC.
    fires = fires_over_local_days("30 2 * * *", "Europe/Berlin", date(2026, 10, 24), date(2026, 10, 26))
    assert fires == [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
    assert fires[1].astimezone(ZoneInfo("Europe/Berlin")).fold == 0
    # New York repeats 01:00-02:00 on 1 November 2026: 01:30 EDT (05:30 UTC) comes first, 01:30 EST an hour later.
    fires = fires_over_local_days("30 1 * * *", "America/New_York", date(2026, 11, 1), date(2026, 11, 1))
    assert fires == [utc(2026, 11, 1, 5, 30)]


def test_a_sub_hourly_schedule_fires_only_on_the_first_pass_of_a_repeated_hour() -> None:
    fires = list(fire_times_between("*/15 * * * *", "Europe/Berlin", utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 2, 0)))
    # 02:00-02:45 CEST (00:00-00:45 UTC) fire; the second pass, 02:00-02:45 CET (01:00-01:45 UTC), does not.
    assert fires == [utc(2026, 10, 25, 0, 15), utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 0, 45), utc(2026, 10, 25, 2)]


def test_a_gap_never_makes_two_fires_at_one_instant() -> None:
    # 02:00-02:45 are moved an hour on, onto 03:00-03:45, which fire anyway: each instant comes once.
    fires = list(fire_times_between("*/15 2-3 * * *", "Europe/Berlin", utc(2026, 3, 29, 0), utc(2026, 3, 29, 3)))
    assert fires == [utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 1, 15), utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 1, 45)]


def test_a_half_hour_gap_comes_out_sorted() -> None:
    # Lord Howe Island jumps 02:00 -> 02:30 on 4 October 2026: 02:20 moves to 02:50, after the real 02:35.
    zone = "Australia/Lord_Howe"
    fires = fires_over_local_days("20,35 2 * * *", zone, date(2026, 10, 3), date(2026, 10, 4))
    shown = [fire.astimezone(ZoneInfo(zone)).strftime("%d %H:%M") for fire in fires]
    assert shown == ["03 02:20", "03 02:35", "04 02:35", "04 02:50"]


def test_fire_times_are_every_wall_time_read_with_fold_0() -> None:
    """The rule stated as a brute force: croniter over naive wall times, zoneinfo with fold=0, each instant once."""
    for zone, expr in [("Europe/Berlin", "*/10 1-3 * * *"), ("Australia/Lord_Howe", "*/20 * * * *")]:
        after, until = utc(2026, 3, 25), utc(2026, 10, 30)
        walls = croniter(expr, (after - timedelta(days=2)).replace(tzinfo=None))
        expected: set[datetime] = set()
        while (wall := walls.get_next(datetime)) < until.replace(tzinfo=None) + timedelta(days=2):
            instant = wall.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
            if after < instant <= until:
                expected.add(instant)
        assert list(fire_times_between(expr, zone, after, until)) == sorted(expected)


def test_midnight_on_the_first_in_shanghai_is_the_previous_day_in_utc() -> None:
    assert next_fire_times("0 0 1 * *", "Asia/Shanghai", utc(2026, 1, 15)) == [
        utc(2026, 1, 31, 16),
        utc(2026, 2, 28, 16),
        utc(2026, 3, 31, 16),
        utc(2026, 4, 30, 16),
        utc(2026, 5, 31, 16),
    ]


def test_samoa_skipping_a_whole_day_still_fires_once_per_instant() -> None:
    # Samoa went from 29 December 2011 straight to 31 December: the 30th's noon is the 31st's noon.
    fires = fires_over_local_days("0 12 * * *", "Pacific/Apia", date(2011, 12, 28), date(2012, 1, 1))
    shown = [fire.astimezone(ZoneInfo("Pacific/Apia")).date().day for fire in fires]
    assert shown == [28, 29, 31, 1]


# --- windows and previews -----------------------------------------------------------------------------------------


def test_every_minute_for_ten_minutes_is_ten_fires_excluding_the_start_including_the_end() -> None:
    fires = list(fire_times_between("* * * * *", "UTC", utc(2026, 5, 4, 12, 0), utc(2026, 5, 4, 12, 10)))
    assert fires == [utc(2026, 5, 4, 12, minute) for minute in range(1, 11)]
    assert all(fire.tzinfo is UTC for fire in fires)


def test_a_window_between_minutes_holds_the_minutes_inside_it() -> None:
    fires = list(fire_times_between("* * * * *", "UTC", utc(2026, 5, 4, 12, 0, 30), utc(2026, 5, 4, 12, 10, 30)))
    assert fires == [utc(2026, 5, 4, 12, minute) for minute in range(1, 11)]


def test_an_empty_or_reversed_window_has_no_fires() -> None:
    assert list(fire_times_between("* * * * *", "UTC", utc(2026, 5, 4, 12), utc(2026, 5, 4, 12))) == []
    assert list(fire_times_between("* * * * *", "UTC", utc(2026, 5, 4, 13), utc(2026, 5, 4, 12))) == []
    assert count_fire_times("* * * * *", "UTC", utc(2026, 5, 4, 13), utc(2026, 5, 4, 12)) == 0


def test_the_preview_shows_the_next_five_monday_mornings_across_a_dst_change() -> None:
    # Wednesday 18 March 2026; Berlin moves to summer time on Sunday 29 March.
    assert next_fire_times("0 9 * * mon", "Europe/Berlin", utc(2026, 3, 18)) == [
        utc(2026, 3, 23, 8),
        utc(2026, 3, 30, 7),
        utc(2026, 4, 6, 7),
        utc(2026, 4, 13, 7),
        utc(2026, 4, 20, 7),
    ]
    assert next_fire_times("0 9 * * 1", "Asia/Shanghai", utc(2026, 3, 9, 1), count=2) == [
        utc(2026, 3, 16, 1),
        utc(2026, 3, 23, 1),
    ]


def test_a_year_of_every_minute_is_counted_without_walking_it() -> None:
    after, until = utc(2026, 1, 1), utc(2027, 1, 1)
    # A year of minutes, less the 60 the spring-forward gap folds onto existing ones (the repeated hour of
    # October fires once, so it adds none).
    assert count_fire_times("* * * * *", "Europe/Berlin", after, until) == 365 * 1440 - 60
    assert count_fire_times("* * * * *", "UTC", after, until) == 365 * 1440


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/Santiago", "Australia/Lord_Howe", "Pacific/Apia"])
def test_counting_agrees_with_walking(zone: str) -> None:
    after, until = utc(2011, 3, 3, 7, 13, 20), utc(2012, 4, 30, 3)
    for expr in ("*/30 * * * *", "15 0-3,23 * * 0", "0 0 L * *"):
        assert count_fire_times(expr, zone, after, until) == sum(
            1 for _ in fire_times_between(expr, zone, after, until)
        )


def test_the_latest_fire_times_are_found_after_a_long_quiet_stretch() -> None:
    latest = latest_fire_times("0 9 1 1 *", "UTC", utc(2015, 6, 1), utc(2026, 6, 1), 2)
    assert latest == [utc(2025, 1, 1, 9), utc(2026, 1, 1, 9)]
    assert latest_fire_times("0 9 1 1 *", "UTC", utc(2025, 6, 1), utc(2026, 6, 1), 5) == [utc(2026, 1, 1, 9)]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        fire_times_between("* * * * *", "UTC", datetime(2026, 1, 1), utc(2026, 1, 2))
    with pytest.raises(ValueError, match="aware"):
        next_fire_times("* * * * *", "UTC", datetime(2026, 1, 1))


# --- validation ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "tidy"),
    [
        ("@daily", "@daily"),
        ("@HOURLY", "@hourly"),
        ("  0   9 * *\tmon ", "0 9 * * mon"),
        ("0 0 L * *", "0 0 L * *"),
        ("0 12 15W * *", "0 12 15W * *"),
        ("0 8 * * 1#2", "0 8 * * 1#2"),
        ("0 0 29 2 *", "0 0 29 2 *"),
    ],
)
def test_valid_expressions_come_back_tidied(expr: str, tidy: str) -> None:
    assert validate_cron(expr) == tidy


@pytest.mark.parametrize(
    ("expr", "english", "chinese"),
    [
        ("", "is empty", "为空"),
        ("   ", "is empty", "为空"),
        ("*" * 201, "longer than 200", "超过 200"),
        ("0\x00 * * * *", "control", "控制字符"),
        ("0 0 * * *\u3000", "non-ASCII", "非 ASCII"),
        ("0 0 * * * *", "6 fields; only five", "6 个字段"),
        ("0 0 0 * * * 2026", "7 fields; only five", "7 个字段"),
        ("0 0 *", "3 field(s); it needs five", "需要五个"),
        ("@reboot", "@reboot", "@reboot"),
        ("@fortnightly", "'@fortnightly' is unknown", "'@fortnightly'"),
        ("61 * * * *", "minute field '61'", "分钟字段 '61'"),
        ("* 24 * * *", "hour field '24'", "小时字段 '24'"),
        ("* * 32 * *", "day-of-month field '32'", "日期字段 '32'"),
        ("* * * 13 *", "month field '13'", "月份字段 '13'"),
        ("* * * * 8", "weekday field '8'", "星期字段 '8'"),
        ("*/0 * * * *", "minute field '*/0'", "分钟字段"),
        ("H * * * *", "H or R", "散列值和随机值"),
        ("0 R * * *", "hour field 'R'", "小时字段 'R'"),
        ("0 0 31 2 *", "never fires", "永远不会触发"),
    ],
)
def test_invalid_expressions_say_what_is_wrong_in_both_languages(expr: str, english: str, chinese: str) -> None:
    with pytest.raises(InvalidSchedule) as caught:
        validate_cron(expr)
    assert caught.value.code == "invalid_schedule"
    assert caught.value.message("en").startswith("The schedule is not valid: ")
    assert english in caught.value.message("en")
    assert caught.value.message("zh-CN").startswith("计划无效：")
    assert chinese in caught.value.message("zh-CN")


@pytest.mark.parametrize(
    "name", ["Mars/Olympus_Mons", "localtime", "../etc/passwd", "/etc/localtime", "", "Europe/Berlin\x00", "Europe"]
)
def test_unknown_time_zones_are_named_in_both_languages(name: str) -> None:
    with pytest.raises(InvalidSchedule) as caught:
        validate_timezone(name)
    assert f"the time zone {name!r} is not an IANA time zone name" in caught.value.message("en")
    assert f"时区 {name!r} 不是 IANA 时区名称" in caught.value.message("zh-CN")


def test_iana_zones_are_accepted() -> None:
    assert validate_timezone("America/New_York") == ZoneInfo("America/New_York")
    assert validate_timezone("UTC") == ZoneInfo("UTC")


def test_fire_times_refuse_a_bad_expression_or_zone_at_once() -> None:
    with pytest.raises(InvalidSchedule, match="minute field"):
        fire_times_between("99 * * * *", "UTC", utc(2026, 1, 1), utc(2026, 1, 2))
    with pytest.raises(InvalidSchedule, match="Atlantis"):
        fire_times_between("* * * * *", "Atlantis/Capital", utc(2026, 1, 1), utc(2026, 1, 2))


# --- missed-run policy --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "policy"),
    [
        ("skip", MissedPolicy("skip")),
        ("latest_once", MissedPolicy("latest_once")),
        ({"kind": "latest_once"}, MissedPolicy("latest_once")),
        (
            {"kind": "catch_up_all", "window_seconds": 86400, "max": 10},
            MissedPolicy("catch_up_all", timedelta(days=1), 10),
        ),
    ],
)
def test_missed_policies_parse_from_what_an_api_sends(value: object, policy: MissedPolicy) -> None:
    assert MissedPolicy.parse(value) == policy
    assert MissedPolicy.parse(policy.as_dict()) == policy


@pytest.mark.parametrize(
    ("value", "english", "chinese"),
    [
        ("sometimes", "'sometimes' is unknown", "'sometimes'"),
        (42, "must be a name or an object", "必须是名称"),
        ({"window_seconds": 60}, "needs a kind", "缺少 kind"),
        ("catch_up_all", "needs window_seconds and max", "需要 window_seconds 和 max"),
        ({"kind": "catch_up_all", "window_seconds": 0, "max": 1}, "window_seconds must be above 0", "window_seconds"),
        ({"kind": "catch_up_all", "window_seconds": 10**30, "max": 1}, "at most 366 days", "366 天"),
        ({"kind": "catch_up_all", "window_seconds": 60, "max": 0}, "max must be from 1 to 1000", "1 到 1000"),
        ({"kind": "catch_up_all", "window_seconds": True, "max": 1}, "window_seconds must be a whole number", "整数"),
        ({"kind": "catch_up_all", "window_seconds": 60, "max": "3"}, "max must be a whole number", "整数"),
        ({"kind": "skip", "window_seconds": 60, "max": 1}, "only catch_up_all takes", "只有 catch_up_all"),
        ({"kind": "skip", "every": 5}, "unknown keys: ['every']", "未知的键"),
    ],
)
def test_bad_missed_policies_say_what_is_wrong_in_both_languages(value: object, english: str, chinese: str) -> None:
    with pytest.raises(InvalidSchedule) as caught:
        MissedPolicy.parse(value)
    assert english in caught.value.message("en")
    assert chinese in caught.value.message("zh-CN")


def minutes(*values: int) -> list[datetime]:
    return [utc(2026, 6, 1, 10, minute) for minute in values]


def decisions(result: tuple[SlotDecision, ...]) -> list[tuple[int, bool, str | None]]:
    return [(d.slot.minute, d.run, d.reason) for d in result]


def test_skip_runs_the_latest_slot_while_it_is_on_time() -> None:
    result = decide_missed(MissedPolicy("skip"), minutes(0, 1, 2), utc(2026, 6, 1, 10, 2, 30))
    assert decisions(result) == [(0, False, "missed"), (1, False, "missed"), (2, True, None)]


def test_skip_runs_nothing_once_the_grace_has_passed() -> None:
    policy = MissedPolicy("skip")
    late = decide_missed(policy, minutes(0, 1, 2), utc(2026, 6, 1, 10, 3, 1))
    assert decisions(late) == [(0, False, "missed"), (1, False, "missed"), (2, False, "missed")]
    longer_grace = decide_missed(policy, minutes(0, 1, 2), utc(2026, 6, 1, 10, 3, 1), grace=timedelta(minutes=5))
    assert [d.run for d in longer_grace] == [False, False, True]


def test_latest_once_runs_the_latest_and_supersedes_the_rest() -> None:
    result = decide_missed(MissedPolicy("latest_once"), minutes(0, 1, 2), utc(2026, 6, 1, 12))
    assert decisions(result) == [(0, False, "superseded"), (1, False, "superseded"), (2, True, None)]


def test_catch_up_all_runs_the_latest_within_the_window_up_to_its_limit() -> None:
    policy = MissedPolicy("catch_up_all", timedelta(minutes=3), 2)
    result = decide_missed(policy, minutes(0, 1, 2, 3, 4, 5), utc(2026, 6, 1, 10, 5, 30))
    assert decisions(result) == [
        (0, False, "outside_window"),
        (1, False, "outside_window"),
        (2, False, "outside_window"),
        (3, False, "over_limit"),
        (4, True, None),
        (5, True, None),
    ]


def test_no_due_slots_decide_nothing() -> None:
    assert decide_missed(MissedPolicy("latest_once"), [], utc(2026, 6, 1)) == ()


def test_due_slots_must_be_increasing_and_not_in_the_future() -> None:
    with pytest.raises(ValueError, match="increasing"):
        decide_missed(MissedPolicy("skip"), minutes(2, 1), utc(2026, 6, 1, 11))
    with pytest.raises(ValueError, match="after now"):
        decide_missed(MissedPolicy("skip"), minutes(1, 2), utc(2026, 6, 1, 10, 1))


def test_missed_runs_over_a_short_pause_decides_every_slot_one_by_one() -> None:
    policy = MissedPolicy("catch_up_all", timedelta(minutes=20), 3)
    last_tick, now = utc(2026, 6, 1, 9, 0, 10), utc(2026, 6, 1, 10, 0, 10)
    result = missed_runs("*/5 * * * *", "UTC", policy, last_tick, now)
    due = list(fire_times_between("*/5 * * * *", "UTC", last_tick, now))
    assert result.earlier == ()
    assert result.slots == decide_missed(policy, due, now)
    assert result.runs == [utc(2026, 6, 1, 9, 50), utc(2026, 6, 1, 9, 55), utc(2026, 6, 1, 10)]


@pytest.mark.parametrize(
    "policy", [MissedPolicy("skip"), MissedPolicy("latest_once"), MissedPolicy("catch_up_all", timedelta(hours=2), 4)]
)
def test_summed_up_slots_agree_with_deciding_every_slot(policy: MissedPolicy) -> None:
    last_tick, now = utc(2026, 6, 1, 0, 0, 10), utc(2026, 6, 1, 6, 0, 10)
    result = missed_runs("*/5 * * * *", "Europe/Berlin", policy, last_tick, now, listed=10)
    every = decide_missed(policy, list(fire_times_between("*/5 * * * *", "Europe/Berlin", last_tick, now)), now)
    assert result.slots == every[-10:]
    by_reason = Counter(d.reason for d in every[:-10])
    assert {s.reason: s.count for s in result.earlier} == by_reason
    for summary in result.earlier:
        slots = [d.slot for d in every[:-10] if d.reason == summary.reason]
        assert (summary.first, summary.last) == (slots[0], slots[-1])


def test_a_schedule_paused_for_a_year_is_summed_up_not_listed() -> None:
    policy = MissedPolicy("catch_up_all", timedelta(days=1), 10)
    last_tick, now = utc(2025, 6, 1), utc(2026, 6, 1, 0, 0, 30)
    result = missed_runs("* * * * *", "UTC", policy, last_tick, now)
    assert len(result.slots) == 1000
    assert result.runs == [utc(2026, 5, 31, 23, 51) + timedelta(minutes=n) for n in range(10)]
    outside, over = result.earlier
    assert (outside.reason, outside.first, outside.last) == ("outside_window", utc(2025, 6, 1, 0, 1), utc(2026, 5, 31))
    assert (over.reason, over.first, over.last) == ("over_limit", utc(2026, 5, 31, 0, 1), utc(2026, 5, 31, 7, 20))
    assert outside.count + over.count + len(result.slots) == 365 * 1440
    assert result.skipped == 365 * 1440 - 10


@pytest.mark.parametrize(("kind", "reason"), [("skip", "missed"), ("latest_once", "superseded")])
def test_a_year_long_pause_runs_at_most_the_latest_slot(kind: str, reason: str) -> None:
    policy = MissedPolicy.parse(kind)
    result = missed_runs("* * * * *", "Europe/Berlin", policy, utc(2025, 6, 1), utc(2026, 6, 1, 0, 0, 30))
    assert result.runs == [utc(2026, 6, 1)]
    (earlier,) = result.earlier
    assert earlier.reason == reason
    assert earlier.count + len(result.slots) == 365 * 1440 - 60  # one spring-forward hour in the year


def test_every_reason_code_has_an_english_and_a_chinese_label() -> None:
    codes = {"missed", "superseded", "outside_window", "over_limit", "previous_running", "buffer_full"}
    assert set(REASON_LABELS) == codes
    assert all(english.isascii() and not chinese.isascii() for english, chinese in REASON_LABELS.values())


# --- overlap ------------------------------------------------------------------------------------------------------

START, SKIP, BUFFER, CANCEL = (
    OverlapAction.START,
    OverlapAction.SKIP,
    OverlapAction.BUFFER,
    OverlapAction.CANCEL_PREVIOUS_THEN_START,
)


@pytest.mark.parametrize(
    ("policy", "running", "buffered", "action", "reason"),
    [
        (Overlap.ALLOW, False, False, START, None),
        (Overlap.ALLOW, True, False, START, None),
        (Overlap.SKIP, False, False, START, None),
        (Overlap.SKIP, True, False, SKIP, "previous_running"),
        (Overlap.BUFFER_ONE, False, False, START, None),
        (Overlap.BUFFER_ONE, True, False, BUFFER, None),
        (Overlap.BUFFER_ONE, True, True, SKIP, "buffer_full"),
        (Overlap.CANCEL_PREVIOUS, False, False, START, None),
        (Overlap.CANCEL_PREVIOUS, True, False, CANCEL, None),
    ],
)
def test_overlap_decisions(
    policy: Overlap, running: bool, buffered: bool, action: OverlapAction, reason: str | None
) -> None:
    decision = decide_overlap(policy, previous_running=running, buffered=buffered)
    assert (decision.action, decision.reason) == (action, reason)


def test_overlap_policies_parse_and_refuse_unknown_names() -> None:
    assert Overlap.parse("buffer_one") is Overlap.BUFFER_ONE
    for value in ("queue", None):
        with pytest.raises(InvalidSchedule) as caught:
            Overlap.parse(value)
        assert "use allow, skip, buffer_one or cancel_previous" in caught.value.message("en")
        assert "未知的重叠策略" in caught.value.message("zh-CN")


# --- property -----------------------------------------------------------------------------------------------------

_CRONS = st.builds(
    lambda *fields: " ".join(fields),
    st.sampled_from(["*", "*/15", "0", "30", "0,30", "5-10", "*/7"]),
    st.sampled_from(["*", "2", "1-3", "*/6", "0,12", "23"]),
    st.sampled_from(["*", "1", "15", "L", "1-7"]),
    st.sampled_from(["*", "*/2", "3,10,11"]),
    st.sampled_from(["*", "0", "1-5", "sun"]),
)
_ZONES = st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Shanghai", "UTC"])
# Days of DST changes in these zones, so that random windows meet them often.
_CHANGES = [utc(2026, 3, 8), utc(2026, 3, 29), utc(2026, 4, 5), utc(2026, 10, 4), utc(2026, 10, 25), utc(2026, 11, 1)]
_STARTS = st.one_of(
    st.builds(lambda day, minutes: day - timedelta(minutes=minutes), st.sampled_from(_CHANGES), st.integers(0, 4320)),
    st.datetimes(datetime(2024, 1, 1), datetime(2028, 1, 1), timezones=st.just(UTC)),
)


@settings(max_examples=60, deadline=None)
@given(_CRONS, _ZONES, _STARTS, st.floats(0, 1))
def test_fire_times_are_increasing_inside_the_window_and_split_cleanly(
    expr: str, zone: str, after: datetime, split: float
) -> None:
    until = after + timedelta(days=3)
    middle = after + (until - after) * split
    fires = list(fire_times_between(expr, zone, after, until))
    assert all(earlier < later for earlier, later in pairwise(fires))
    assert all(after < fire <= until and fire.tzinfo is UTC for fire in fires)
    assert fires == list(fire_times_between(expr, zone, after, middle)) + list(
        fire_times_between(expr, zone, middle, until)
    )
    assert count_fire_times(expr, zone, after, until) == len(fires)
