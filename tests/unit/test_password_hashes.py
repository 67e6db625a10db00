"""A sign-in with a name nobody has must cost what a wrong password costs: it is verified against a hash in the
hasher's own parameters that no password matches — made without hashing, so importing costs no 64 MiB."""

from __future__ import annotations

import pytest
from argon2.exceptions import VerifyMismatchError

from batchyard.service import auth


@pytest.mark.parametrize("password", ["", "secret", "correct horse battery staple"])
def test_the_unknown_name_hash_is_a_real_argon2_hash_no_password_matches(password: str) -> None:
    with pytest.raises(VerifyMismatchError):  # computed and compared, not refused as malformed
        auth._hasher.verify(auth._DUMMY_HASH, password)


def test_the_unknown_name_hash_has_the_parameters_of_real_ones() -> None:
    real = auth.hash_password("x")
    assert auth._DUMMY_HASH.rsplit("$", 2)[0] == real.rsplit("$", 2)[0]
    assert not auth._hasher.check_needs_rehash(auth._DUMMY_HASH)
    assert auth._unmatchable_hash() != auth._DUMMY_HASH  # a fresh salt each time
