"""Sealing for the shared vault stores (SQLite, Redis): AES-256-GCM under a key every agent
process shares, and entry ids that name no user.

An entry's id is a SHA-256 of what it is for (a :class:`~deputy.agent.vault.VaultKey`, or a
user federation's refresh-token slot), so a store does not even say which users have tokens; the
id is also the GCM associated data, so a sealed entry copied onto another id does not open. An
entry that does not open (another key, tampered with) reads as absent, and is logged once per
store so that a key mismatch between processes does not go unnoticed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from deputy.agent.errors import ConfigurationError
from deputy.agent.token import Token
from deputy.agent.vault import VaultKey

__all__ = ["KEY_ENV", "Sealer", "new_vault_key", "refresh_id", "row_id"]

log = logging.getLogger("deputy.agent")

KEY_ENV = "DEPUTY_VAULT_KEY"
NONCE = 12


def new_vault_key() -> str:
    """A fresh 256-bit key, base64url: put it in ``DEPUTY_VAULT_KEY`` for every agent process."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def read_key(key: bytes | str | None) -> bytes:
    """32 bytes, base64url text, or None to read ``DEPUTY_VAULT_KEY``; else ConfigurationError."""
    if key is None:
        key = os.environ.get(KEY_ENV)
        if not key:
            raise ConfigurationError(f"a shared vault needs an encryption key: set {KEY_ENV} (see new_vault_key())")
    if isinstance(key, str):
        try:
            key = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
        except ValueError:
            raise ConfigurationError("the vault key is not base64url") from None
    if len(key) != 32:
        raise ConfigurationError("the vault key must be 32 bytes (AES-256)")
    return key


def row_id(key: VaultKey) -> str:
    canonical = json.dumps(
        [list(key.user), key.provider, key.audience, key.resource, sorted(key.scopes)], separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def refresh_id(identity: tuple[str, str], provider: str, scopes: tuple[str, ...]) -> str:
    """The id of a user federation refresh token: per user identity, provider and scopes."""
    canonical = json.dumps(["refresh_token", list(identity), provider, sorted(scopes)], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class Sealer:
    """Seals and opens entries under one key; ``where`` names the store in the mismatch warning."""

    def __init__(self, key: bytes | str | None, where: str) -> None:
        self._aead = AESGCM(read_key(key))
        self._where = where
        self._warned = False

    def __repr__(self) -> str:
        return f"Sealer({self._where!r})"

    def seal(self, entry_id: str, data: dict[str, Any]) -> bytes:
        nonce = secrets.token_bytes(NONCE)
        return nonce + self._aead.encrypt(nonce, json.dumps(data).encode(), entry_id.encode())

    def open(self, entry_id: str, sealed: bytes) -> dict[str, Any] | None:
        try:
            data = json.loads(self._aead.decrypt(sealed[:NONCE], sealed[NONCE:], entry_id.encode()))
        except (InvalidTag, ValueError):
            if not self._warned:
                self._warned = True
                log.warning("%s: an entry did not open (another DEPUTY_VAULT_KEY, or tampered with); "
                            "treated as absent", self._where)
            return None
        return data if isinstance(data, dict) else None

    def seal_token(self, entry_id: str, token: Token) -> bytes:
        return self.seal(entry_id, {
            "value": token.value, "token_type": token.token_type, "expires_at": token.expires_at,
            "scopes": sorted(token.scopes), "issued_token_type": token.issued_token_type,
            "refresh_token": token.refresh_token,
        })

    def open_token(self, entry_id: str, sealed: bytes) -> Token | None:
        data = self.open(entry_id, sealed)
        if data is None:
            return None
        return Token(
            value=data["value"], token_type=data["token_type"], expires_at=int(data["expires_at"]),
            scopes=frozenset(data["scopes"]), issued_token_type=data["issued_token_type"],
            refresh_token=data["refresh_token"],
        )

    def seal_refresh(self, entry_id: str, refresh_token: str) -> bytes:
        return self.seal(entry_id, {"refresh_token": refresh_token})

    def open_refresh(self, entry_id: str, sealed: bytes) -> str | None:
        data = self.open(entry_id, sealed)
        value = None if data is None else data.get("refresh_token")
        return value if isinstance(value, str) and value else None
