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

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from deputy.agent.sealing import KEY_ENV, Sealer, new_vault_key, refresh_id, row_id
from deputy.agent.token import Token
from deputy.agent.vault import VaultKey

__all__ = ["KEY_ENV", "REFRESH_TTL", "SQLiteVaultStore", "VaultStore", "new_vault_key", "row_id"]

REFRESH_TTL = 90 * 24 * 3600  # seconds a refresh token is kept without use (servers rarely say)


class VaultStore(Protocol):
    """Where a :class:`~deputy.agent.vault.TokenVault` keeps tokens beyond its memory."""

    def load(self, key: VaultKey) -> Token | None: ...

    def save(self, key: VaultKey, token: Token) -> None: ...

    def delete(self, key: VaultKey, fingerprint: str | None = None) -> None: ...

    def claim(self, key: VaultKey, seconds: int) -> bool:
        """Take the lease to exchange for ``key`` for ``seconds``; False if another process holds it."""
        ...

    def release(self, key: VaultKey) -> None: ...


class SQLiteVaultStore:
    """Tokens in a SQLite file, sealed with AES-256-GCM. ``key``: 32 bytes, or base64url text,
    or None to read ``DEPUTY_VAULT_KEY``. Also keeps user federation's refresh tokens
    (:class:`~deputy.agent.user_federation.RefreshTokenStore`), sealed the same way, for
    ``refresh_ttl`` seconds after their last use."""

    def __init__(self, path: str | Path, *, key: bytes | str | None = None,
                 clock: Callable[[], float] = time.time, refresh_ttl: int = REFRESH_TTL) -> None:
        self.path = Path(path)
        self._sealer = Sealer(key, f"vault store {self.path}")
        self._clock = clock
        self.refresh_ttl = refresh_ttl
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS deputy_agent_tokens ("
            "id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, expires_at INTEGER NOT NULL, sealed BLOB NOT NULL)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS deputy_agent_leases (id TEXT PRIMARY KEY, until REAL NOT NULL)")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS deputy_agent_refresh_tokens ("
            "id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, sealed BLOB NOT NULL)"
        )

    def __repr__(self) -> str:
        return f"SQLiteVaultStore({str(self.path)!r})"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def load(self, key: VaultKey) -> Token | None:
        rid = row_id(key)
        with self._lock:
            row = self._db.execute(
                "SELECT sealed, expires_at FROM deputy_agent_tokens WHERE id = ?", (rid,)
            ).fetchone()
        if row is None or row[1] <= self._clock():
            return None
        return self._sealer.open_token(rid, bytes(row[0]))

    def save(self, key: VaultKey, token: Token) -> None:
        rid = row_id(key)
        sealed = self._sealer.seal_token(rid, token)
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

    # -- user federation's refresh tokens (RefreshTokenStore) --------------------------------

    def load_refresh_token(self, identity: tuple[str, str], provider: str, scopes: tuple[str, ...]) -> str | None:
        rid = refresh_id(identity, provider, scopes)
        with self._lock:
            row = self._db.execute(
                "SELECT sealed, expires_at FROM deputy_agent_refresh_tokens WHERE id = ?", (rid,)
            ).fetchone()
        if row is None or row[1] <= self._clock():
            return None
        return self._sealer.open_refresh(rid, bytes(row[0]))

    def save_refresh_token(
        self, identity: tuple[str, str], provider: str, scopes: tuple[str, ...], refresh_token: str
    ) -> None:
        rid = refresh_id(identity, provider, scopes)
        sealed = self._sealer.seal_refresh(rid, refresh_token)
        now = int(self._clock())
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO deputy_agent_refresh_tokens (id, expires_at, sealed) VALUES (?, ?, ?)",
                (rid, now + self.refresh_ttl, sealed),
            )
            self._db.execute("DELETE FROM deputy_agent_refresh_tokens WHERE expires_at <= ?", (now,))

    def delete_refresh_token(self, identity: tuple[str, str], provider: str, scopes: tuple[str, ...]) -> None:
        with self._lock:
            self._db.execute("DELETE FROM deputy_agent_refresh_tokens WHERE id = ?",
                             (refresh_id(identity, provider, scopes),))
