"""The demo's legacy system (seed 003, "migrate a million users from the old system"): a SQLite file of users
with the old system's column names and types — names in Chinese, ``reg_time`` as text, ``vip_flag`` 'Y'/'N',
points as text, ids dense with a tail of huge ones — written on first use, and the ``users`` resource a
``migrate`` job fills from it."""

from __future__ import annotations

import datetime
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from batchyard.store.sql.source_policy import SOURCES_FOLDER
from batchyard.yard import Yard

SEED = 20261201
LEGACY_ROWS = 20_000
TAIL_ROWS = 1_000  # ids far past the dense ones, as an old system's imported accounts left them
BAD_EMAILS = 12  # rows the users model refuses, so a migration has rejects to show
_SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴")
_GIVEN = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛")
USER_TITLES = {
    "id": "用户编号",
    "username": "用户名",
    "email": "邮箱",
    "registered_at": "注册时间",
    "vip": "VIP",
    "points": "积分",
}
# The field map from the old table to ``users``: every old column mapped or dropped.
MAPPING: dict[str, Any] = {
    "id": "user_id",
    "username": {"from": "user_name", "fn": "strip"},
    "email": {"from": "email_addr", "fn": "empty_to_null"},
    "registered_at": {"from": "reg_time", "cast": "datetime"},
    "vip": {"from": "vip_flag", "cast": "bool", "default": False},
    "points": {"from": "score", "cast": "int", "default": 0},
}
DROPPED = ["memo"]


class User(BaseModel):
    id: int = Field(ge=1)
    username: str = Field(min_length=1, max_length=50)
    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")
    registered_at: datetime.datetime
    vip: bool = False
    points: int = Field(0, ge=0)


def legacy_rows(count: int = LEGACY_ROWS) -> Iterator[tuple[Any, ...]]:
    """The old system's users: ``count - TAIL_ROWS`` dense ids from 1, then huge ids, a few with a broken e-mail
    address."""
    rng = random.Random(SEED)
    tail = min(TAIL_ROWS, count // 10)
    ids = list(range(1, count - tail + 1)) + sorted(rng.sample(range(10**9, 10**12), tail))
    bad = set(rng.sample(range(count), min(BAD_EMAILS, count)))
    start = datetime.datetime(2012, 1, 1)
    for n, user_id in enumerate(ids):
        name = rng.choice(_SURNAMES) + "".join(rng.choices(_GIVEN, k=rng.randint(1, 2)))
        email = "not-an-address" if n in bad else (f"user{user_id}@example.cn" if rng.random() < 0.9 else "")
        registered = start + datetime.timedelta(seconds=rng.randrange(12 * 365 * 86_400))
        vip = "Y" if rng.random() < 0.15 else "N"
        yield user_id, f" {name} ", email, registered.strftime("%Y-%m-%d %H:%M:%S"), vip, str(rng.randrange(5_000)), ""


def write_legacy_db(path: Path, count: int = LEGACY_ROWS) -> Path:
    """The legacy SQLite file at ``path``, written when it is not there yet (a file there is left as it is)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    with sqlite3.connect(partial) as conn:
        conn.execute(
            "CREATE TABLE legacy_users (user_id INTEGER PRIMARY KEY, user_name TEXT, email_addr TEXT,"
            " reg_time TEXT, vip_flag TEXT, score TEXT, memo TEXT)"
        )
        conn.executemany("INSERT INTO legacy_users VALUES (?, ?, ?, ?, ?, ?, ?)", legacy_rows(count))
    conn.close()
    partial.replace(path)  # whole or not at all: a demo started twice at once never reads half a file
    return path


def migration_params(database: Path) -> dict[str, Any]:
    """Params of the demo migration from the legacy file into ``users`` (a dozen rows are rejected)."""
    return {
        "source_url": f"sqlite:///{database}",
        "source": "legacy_users",
        "key": "user_id",
        "resource": "users",
        "mapping": MAPPING,
        "drop": DROPPED,
        "max_rejects": 100,
    }


def declare(yard: Yard) -> None:
    """The ``users`` resource the legacy users migrate into."""
    yard.resource("users", User, key=["id"], titles={"zh-CN": USER_TITLES})


def prepare(yard: Yard) -> Path:
    """The legacy file in the yard's ``sources/`` folder (where a migration may read by default), written on first
    use; its path."""
    return write_legacy_db((Path(yard.settings.data_dir) / SOURCES_FOLDER / "legacy.db").resolve())
