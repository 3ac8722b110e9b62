"""A vault shared by several agent processes: SQLite on a local disk, tokens encrypted at rest.

Each row holds one token, sealed with AES-256-GCM under a key the processes share (32 bytes,
e.g. ``DEPUTY_VAULT_KEY`` as base64url). The row id is a SHA-256 of the :class:`VaultKey`, so
the file does not even say which users have tokens, and that id is the GCM associated data: a
sealed token copied onto another user's row does not open. Expired rows are purged on write.

Single flight across processes: before exchanging, a process takes a short lease on the key (a
row in the same file); the others wait for the token it stores, and exchange themselves only if
the lease runs out (the leaseholder died or the exchange hangs).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from deputy.agent.errors import ConfigurationError
from deputy.agent.token import Token
from deputy.agent.vault import VaultKey

__all__ = ["SQLiteVaultStore", "VaultStore", "new_vault_key"]

KEY_ENV = "DEPUTY_VAULT_KEY"


class VaultStore(Protocol):
    """Where a :class:`~deputy.agent.vault.TokenVault` keeps tokens beyond its memory."""

    def load(self, key: VaultKey) -> Token | None: ...

    def save(self, key: VaultKey, token: Token) -> None: ...

    def delete(self, key: VaultKey, fingerprint: str | None = None) -> None: ...

    def claim(self, key: VaultKey, seconds: int) -> bool:
        """Take the lease to exchange for ``key`` for ``seconds``; False if another process holds it."""
        ...

    def release(self, key: VaultKey) -> None: ...


def new_vault_key() -> str:
    """A fresh 256-bit key, base64url: put it in ``DEPUTY_VAULT_KEY`` for every agent process."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def _read_key(key: bytes | str | None) -> bytes:
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


class SQLiteVaultStore:
    """Tokens in a SQLite file, sealed with AES-256-GCM. ``key``: 32 bytes, or base64url text,
    or None to read ``DEPUTY_VAULT_KEY``."""

    def __init__(self, path: str | Path, *, key: bytes | str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._aead = AESGCM(_read_key(key))
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS deputy_agent_tokens ("
            "id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, expires_at INTEGER NOT NULL, sealed BLOB NOT NULL)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS deputy_agent_leases (id TEXT PRIMARY KEY, until REAL NOT NULL)")

    def __repr__(self) -> str:
        return f"SQLiteVaultStore({str(self.path)!r})"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _seal(self, rid: str, token: Token) -> bytes:
        plain = json.dumps({
            "value": token.value, "token_type": token.token_type, "expires_at": token.expires_at,
            "scopes": sorted(token.scopes), "issued_token_type": token.issued_token_type,
            "refresh_token": token.refresh_token,
        }).encode()
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, plain, rid.encode())

    def _open(self, rid: str, sealed: bytes) -> Token | None:
        try:
            data = json.loads(self._aead.decrypt(sealed[:12], sealed[12:], rid.encode()))
        except (InvalidTag, ValueError):
            return None  # another key, or tampered with: as if absent
        return Token(
            value=data["value"], token_type=data["token_type"], expires_at=int(data["expires_at"]),
            scopes=frozenset(data["scopes"]), issued_token_type=data["issued_token_type"],
            refresh_token=data["refresh_token"],
        )

    def load(self, key: VaultKey) -> Token | None:
        rid = row_id(key)
        with self._lock:
            row = self._db.execute(
                "SELECT sealed, expires_at FROM deputy_agent_tokens WHERE id = ?", (rid,)
            ).fetchone()
        if row is None or row[1] <= self._clock():
            return None
        return self._open(rid, bytes(row[0]))

    def save(self, key: VaultKey, token: Token) -> None:
        rid = row_id(key)
        sealed = self._seal(rid, token)
        with self._lock:
            self._db.execute(
                "INSERT INTO deputy_agent_tokens (id, fingerprint, expires_at, sealed) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET fingerprint = excluded.fingerprint, "
                "expires_at = excluded.expires_at, sealed = excluded.sealed",
                (rid, token.fingerprint, token.expires_at, sealed),
            )
            self._db.execute("DELETE FROM deputy_agent_tokens WHERE expires_at <= ?", (int(self._clock()),))

    def delete(self, key: VaultKey, fingerprint: str | None = None) -> None:
        with self._lock:
            if fingerprint is None:
                self._db.execute("DELETE FROM deputy_agent_tokens WHERE id = ?", (row_id(key),))
            else:
                self._db.execute("DELETE FROM deputy_agent_tokens WHERE id = ? AND fingerprint = ?",
                                 (row_id(key), fingerprint))

    def claim(self, key: VaultKey, seconds: int) -> bool:
        rid, now = row_id(key), time.time()  # leases use wall time: they are between processes
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT until FROM deputy_agent_leases WHERE id = ?", (rid,)).fetchone()
                if row is not None and row[0] > now:
                    return False
                self._db.execute("INSERT OR REPLACE INTO deputy_agent_leases (id, until) VALUES (?, ?)",
                                 (rid, now + seconds))
                return True
            finally:
                self._db.execute("COMMIT")

    def release(self, key: VaultKey) -> None:
        with self._lock:
            self._db.execute("DELETE FROM deputy_agent_leases WHERE id = ?", (row_id(key),))
