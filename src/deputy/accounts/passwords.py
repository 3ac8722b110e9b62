"""Password hashing with argon2id (RFC 9106), through argon2-cffi.

The parameters are argon2-cffi's defaults (RFC 9106's second recommended option: t=3,
m=64 MiB, p=4). Stored hashes carry their parameters, so they can be raised later: a hash made
with weaker ones is replaced at the next successful sign-in.
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 8
MAX_LENGTH = 1024

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified when the user is unknown, so that a wrong username costs as much as a wrong
    password (no user enumeration by timing). Made on first use: hashing is deliberately slow."""
    return _hasher.hash("deputy-no-such-user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant work whether or not there is a hash to check against."""
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except (InvalidHashError, ValueError):
        return True


def is_password_hash(value: str) -> bool:
    """Whether ``value`` is a well-formed argon2id hash (realm files may ship one)."""
    if not value.startswith("$argon2id$"):
        return False
    try:
        _hasher.check_needs_rehash(value)
    except (InvalidHashError, ValueError):
        return False
    return True


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"a password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password must be at most {MAX_LENGTH} characters"
    return None
