"""Secrets: generated with enough entropy, stored only as hashes, never printed by accident."""

from __future__ import annotations

import hashlib
import hmac
import secrets as _stdlib_secrets  # the standard library module


class Secret:
    """A string that does not show itself in repr, str or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self._value)


def new_client_secret() -> Secret:
    """A 256-bit random client secret with a recognisable prefix (for secret scanners)."""
    return Secret("dps_" + _stdlib_secrets.token_urlsafe(32))


def hash_secret(secret: str) -> str:
    """Client secrets are 256-bit random values, so one SHA-256 is enough; a slow password
    hash would only slow down every token request without adding security."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


def verify_secret(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def new_token_id() -> str:
    """128 random bits in hex: safe in URLs, logs and command lines (never starts with '-')."""
    return _stdlib_secrets.token_hex(16)
