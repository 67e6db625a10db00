"""Signing in and knowing who calls.

Passwords are hashed with argon2 (argon2-cffi's defaults, re-hashed when those change). Tokens are 256 random
bits, shown once and kept only as their SHA-256 digest: a digest of that much randomness cannot be reversed,
and it is what a request's token is looked up by. Sign-in tokens expire; named API tokens last until revoked.
Failed sign-ins are counted per user name and per address, in the database so that every API process sees
them; past the limit a sign-in is refused before the password is even checked.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from batchyard.core.users import Role, Token, User
from batchyard.errors import NotSignedIn, SignInFailed, TooManySignIns
from batchyard.store.base import Store

TOKEN_PREFIX = "by_"
SIGN_IN_HOURS = 12.0
FAILURES_ALLOWED = 5  # failed sign-ins per user name, and per address, in FAILURE_WINDOW_MINUTES
FAILURE_WINDOW_MINUTES = 15

_hasher = PasswordHasher()


def _unmatchable_hash() -> str:
    """A hash in the hasher's own parameters with a random salt and digest, which no password matches. Verified
    against when the user does not exist, so that a wrong name costs what a wrong password costs; made without
    hashing (a real hash takes argon2's 64 MiB, which every worker importing this would reach)."""
    salt = base64.b64encode(secrets.token_bytes(_hasher.salt_len)).decode().rstrip("=")
    digest = base64.b64encode(secrets.token_bytes(_hasher.hash_len)).decode().rstrip("=")
    cost = f"m={_hasher.memory_cost},t={_hasher.time_cost},p={_hasher.parallelism}"
    return f"$argon2id$v=19${cost}${salt}${digest}"


_DUMMY_HASH = _unmatchable_hash()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def mint_token() -> tuple[str, str]:
    """A new token's secret (to show once) and its digest (to store)."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return secret, digest(secret)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: Token
    secret: str  # shown once: only its digest is stored


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AuthService:
    def __init__(
        self, store: Store, *, sign_in_hours: float = SIGN_IN_HOURS, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self.store = store
        self.sign_in_hours = sign_in_hours
        self._clock = clock

    def create_user(
        self, name: str, *, role: Role, quota: int, password: str | None = None, token_name: str = "default"
    ) -> tuple[User, IssuedToken]:
        """A user and a first named API token for them."""
        user = self.store.create_user(name, role, quota, hash_password(password) if password else None)
        return user, self.issue_token(user, token_name)

    def issue_token(self, user: User, name: str, *, expires_at: datetime | None = None) -> IssuedToken:
        secret, hashed = mint_token()
        kind = "api" if expires_at is None else "sign-in"
        token = self.store.add_token(user.id, name, hashed, kind, expires_at)
        return IssuedToken(token, secret)

    def sign_in(self, name: str, password: str, address: str) -> IssuedToken:
        """An expiring token for a user name and password; too many failures from the name or the address
        refuse further tries for a while (TooManySignIns), wrong ones raise SignInFailed.

        Each try is counted as a failure before the password is checked, and the count taken back when it
        was right: tries sent in parallel cannot all pass the limit while the slow hash is computed."""
        subjects = (f"user:{name.casefold()}", f"address:{address}")
        minute = self._minute()
        self.store.record_login_failure(subjects, minute)
        self._refuse_if_guessing(subjects, minute)
        found = self.store.password_hash(name)
        if found is None or found[1] is None:
            _verify(_DUMMY_HASH, password)
            raise SignInFailed()
        user_id, hashed = found
        assert hashed is not None
        if not _verify(hashed, password):
            raise SignInFailed()
        self.store.forget_login_attempt(subjects, minute)
        if _hasher.check_needs_rehash(hashed):
            self.store.set_password_hash(user_id, hash_password(password))
        user = self.store.get_user(name)
        expires = self._clock() + timedelta(hours=self.sign_in_hours)
        return self.issue_token(user, "sign-in", expires_at=expires)

    def authenticate(self, secret: str | None) -> User:
        if not secret or not secret.startswith(TOKEN_PREFIX):
            raise NotSignedIn()
        user = self.store.user_for_token(digest(secret), self._clock())
        if user is None:
            raise NotSignedIn()
        return user

    def sign_out(self, secret: str) -> None:
        """The token ends here: a sign-in session is over when its tab signs out, not when it expires."""
        self.authenticate(secret)
        self.store.revoke_token_by_digest(digest(secret))

    def _refuse_if_guessing(self, subjects: tuple[str, ...], minute: int) -> None:
        """Refuse when this try (already counted) is past the limit for the name or the address; Retry-After
        is when enough of the counted tries will have left the window for one more."""
        since = minute - FAILURE_WINDOW_MINUTES + 1
        waits = [
            _seconds_until_allowed(counts, minute, self._clock())
            for counts in (self.store.login_failures_since(s, since) for s in subjects)
            if sum(counts.values()) > FAILURES_ALLOWED
        ]
        if waits:
            raise TooManySignIns(retry_after=max(waits))

    def _minute(self) -> int:
        return int(self._clock().timestamp() // 60)


def _seconds_until_allowed(counts: dict[int, int], minute: int, now: datetime) -> int:
    """Seconds until the tries counted in the window (this one excepted) leave room for one more."""
    counted = dict(counts)  # the refused try among them: it stays counted
    for later in range(minute + 1, minute + FAILURE_WINDOW_MINUTES + 1):
        kept = sum(n for m, n in counted.items() if m > later - FAILURE_WINDOW_MINUTES)
        if kept < FAILURES_ALLOWED:
            return max(1, int(later * 60 - now.timestamp()) + 1)
    return FAILURE_WINDOW_MINUTES * 60


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False
