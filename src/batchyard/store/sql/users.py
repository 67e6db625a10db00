"""Users, their tokens (kept as digests) and failed sign-ins."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from batchyard.core.users import LedgerEntry, Role, Token, User
from batchyard.errors import UserExists, UserNotFound
from batchyard.store.sql.database import Database
from batchyard.store.sql.quota import adjust
from batchyard.store.sql.rows import as_utc, utcnow
from batchyard.store.sql.tables import ledger as ledger_table
from batchyard.store.sql.tables import login_failures, tokens, users


def create_user(db: Database, name: str, role: Role, quota: int, password_hash: str | None) -> User:
    """The user, with a starting balance of ``quota`` granted through the ledger."""
    values = {"name": name, "role": role, "quota": 0, "password_hash": password_hash, "created_at": utcnow()}
    try:
        with db.write() as conn:
            user_id = conn.execute(insert(users).values(**values).returning(users.c.id)).scalar_one()
            adjust(conn, user_id, quota, key=f"user:{user_id}:grant", kind="grant")
    except IntegrityError:
        raise UserExists(name=name) from None
    return get_user(db, user_id)


def get_user(db: Database, user: int | str) -> User:
    column = users.c.id if isinstance(user, int) else users.c.name
    with db.read() as conn:
        row = conn.execute(select(users).where(column == user)).mappings().one_or_none()
    if row is None:
        raise UserNotFound(user=user)
    return _user(row)


def list_users(db: Database, *, after: int | None, limit: int) -> list[User]:
    """Users in the order they were made, from the one after id ``after``."""
    query = select(users).order_by(users.c.id).limit(limit)
    if after is not None:
        query = query.where(users.c.id > after)
    with db.read() as conn:
        return [_user(row) for row in conn.execute(query).mappings()]


def update_user(db: Database, user_id: int, *, role: Role | None, quota: int | None) -> User:
    """Set the role, and the balance to ``quota`` (the difference is a ledger row, so the balance stays the
    sum of the user's rows)."""
    with db.write() as conn:
        if role is not None:
            conn.execute(update(users).where(users.c.id == user_id).values(role=role))
        if quota is not None:
            query = select(users.c.quota).where(users.c.id == user_id)
            if not db.is_sqlite:
                query = query.with_for_update()
            balance = conn.execute(query).scalar_one()
            adjust(conn, user_id, quota - balance, key=f"user:{user_id}:set:{uuid.uuid4().hex}", kind="set")
    return get_user(db, user_id)


def set_email(db: Database, user_id: int, email: str | None) -> User:
    """Where the user's notices are e-mailed (None: nowhere); deliveries already queued keep their address."""
    with db.write() as conn:
        changed = conn.execute(update(users).where(users.c.id == user_id).values(email=email))
    if not changed.rowcount:
        raise UserNotFound(user=user_id)
    return get_user(db, user_id)


def password_hash(db: Database, name: str) -> tuple[int, str | None] | None:
    """The user's id and password hash, or None when there is no such user."""
    with db.read() as conn:
        row = conn.execute(select(users.c.id, users.c.password_hash).where(users.c.name == name)).one_or_none()
    return None if row is None else (row.id, row.password_hash)


def set_password_hash(db: Database, user_id: int, hashed: str) -> None:
    with db.write() as conn:
        conn.execute(update(users).where(users.c.id == user_id).values(password_hash=hashed))


def add_token(db: Database, user_id: int, *, name: str, digest: str, kind: str, expires_at: datetime | None) -> Token:
    values = {
        "user_id": user_id,
        "name": name,
        "digest": digest,
        "kind": kind,
        "created_at": utcnow(),
        "expires_at": expires_at,
    }
    with db.write() as conn:
        token_id = conn.execute(insert(tokens).values(**values).returning(tokens.c.id)).scalar_one()
        row = conn.execute(select(tokens).where(tokens.c.id == token_id)).mappings().one()
    return _token(row)


def user_for_token(db: Database, digest: str, now: datetime) -> User | None:
    """The user a live token (not revoked, not expired) belongs to."""
    t = tokens.c
    query = (
        select(users, t.expires_at)
        .join(tokens, t.user_id == users.c.id)
        .where(t.digest == digest, t.revoked_at.is_(None))
    )
    with db.read() as conn:
        row = conn.execute(query).mappings().one_or_none()
    if row is None:
        return None
    expires = as_utc(row["expires_at"])
    if expires is not None and expires <= now:
        return None
    return _user(row)


def list_tokens(db: Database, user_id: int) -> list[Token]:
    with db.read() as conn:
        rows = conn.execute(select(tokens).where(tokens.c.user_id == user_id).order_by(tokens.c.id)).mappings()
        return [_token(row) for row in rows]


def revoke_token(db: Database, user_id: int, token_id: int) -> bool:
    t = tokens.c
    with db.write() as conn:
        result = conn.execute(
            update(tokens)
            .where(t.id == token_id, t.user_id == user_id, t.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    return bool(result.rowcount)


def revoke_token_by_digest(db: Database, digest: str) -> bool:
    t = tokens.c
    with db.write() as conn:
        result = conn.execute(
            update(tokens).where(t.digest == digest, t.revoked_at.is_(None)).values(revoked_at=utcnow())
        )
    return bool(result.rowcount)


def record_login_failure(db: Database, subjects: Sequence[str], minute: int) -> None:
    f = login_failures.c
    with db.write() as conn:
        for subject in subjects:
            counted = conn.execute(
                update(login_failures).where(f.subject == subject, f.minute == minute).values(count=f.count + 1)
            )
            if not counted.rowcount:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(login_failures).values(subject=subject, minute=minute, count=1))
                except IntegrityError:  # another process counted the first failure of this minute meanwhile
                    conn.execute(
                        update(login_failures).where(f.subject == subject, f.minute == minute).values(count=f.count + 1)
                    )


def forget_login_attempt(db: Database, subjects: Sequence[str], minute: int) -> None:
    f = login_failures.c
    with db.write() as conn:
        for subject in subjects:
            conn.execute(
                update(login_failures)
                .where(f.subject == subject, f.minute == minute, f.count > 0)
                .values(count=f.count - 1)
            )


def login_failures_since(db: Database, subject: str, minute: int) -> dict[int, int]:
    f = login_failures.c
    with db.read() as conn:
        rows = conn.execute(select(f.minute, f.count).where(f.subject == subject, f.minute >= minute)).all()
    return {int(m): int(n) for m, n in rows if n}


def ledger(db: Database, user_id: int, *, before: int | None, limit: int) -> list[LedgerEntry]:
    e = ledger_table.c
    query = select(ledger_table).where(e.user_id == user_id).order_by(e.id.desc()).limit(limit)
    if before is not None:
        query = query.where(e.id < before)
    with db.read() as conn:
        return [
            LedgerEntry(
                id=row["id"],
                job_id=row["job_id"],
                key=row["key"],
                kind=row["kind"],
                amount=row["amount"],
                balance_after=row["balance_after"],
                created_at=as_utc(row["created_at"]) or row["created_at"],
            )
            for row in conn.execute(query).mappings()
        ]


def _user(row: Any) -> User:
    return User(
        id=row["id"],
        name=row["name"],
        role=Role(row["role"]),
        quota=row["quota"],
        created_at=as_utc(row["created_at"]) or row["created_at"],
        has_password=row["password_hash"] is not None,
        email=row["email"],
    )


def _token(row: Any) -> Token:
    return Token(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        kind=row["kind"],
        created_at=as_utc(row["created_at"]) or row["created_at"],
        expires_at=as_utc(row["expires_at"]),
        revoked_at=as_utc(row["revoked_at"]),
    )
