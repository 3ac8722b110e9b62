"""Persisted signing keys, shared by every server process; rotation with an overlap window."""

from __future__ import annotations

import threading

from sqlalchemy import insert, select, update

from deputy.clock import Clock
from deputy.constants import ISSUING_ALGORITHMS
from deputy.jose import KeyRing, StoredKey, generate_key
from deputy.storage.database import Database
from deputy.storage.schema import signing_keys


class KeyStore:
    """Loads the key ring from the database and re-reads it every ``refresh_seconds``,
    so a rotation made by one process (or the CLI) reaches every other."""

    def __init__(self, db: Database, clock: Clock, refresh_seconds: int = 30) -> None:
        self._db = db
        self._clock = clock
        self._refresh = refresh_seconds
        self._ring: KeyRing | None = None
        self._loaded_at = 0
        self._next_retirement: int | None = None  # when the ring must drop a retiring key
        self._lock = threading.Lock()
        self.cache_hits = 0  # key_ring() answered without reading the database (a metric)
        self.cache_misses = 0

    def stored_keys(self) -> list[StoredKey]:
        with self._db.read() as conn:
            rows = conn.execute(select(signing_keys).order_by(signing_keys.c.created_at)).all()
        return [
            StoredKey(r.kid, r.alg, dict(r.private_jwk), int(r.created_at), r.retire_at) for r in rows
        ]

    def ensure_keys(self) -> None:
        """Create an active key for every issuing algorithm that has none (first start)."""
        now = self._clock.now()
        if {k.alg for k in self.stored_keys() if k.retire_at is None} >= set(ISSUING_ALGORITHMS):
            return  # the common case: nothing to do, no write lock taken
        # Check again under the write lock, so that processes starting together make one key each.
        # (audit=True: on PostgreSQL the store-wide advisory lock; SQLite's BEGIN IMMEDIATE alone
        # serialises, but PostgreSQL's READ COMMITTED would let two starters both insert.)
        with self._db.write(audit=True) as conn:
            rows = conn.execute(select(signing_keys.c.alg).where(signing_keys.c.retire_at.is_(None)))
            active = {r.alg for r in rows}
            for alg in ISSUING_ALGORITHMS:
                if alg not in active:
                    key = generate_key(alg, now)
                    conn.execute(
                        insert(signing_keys).values(
                            kid=key.kid, alg=key.alg, private_jwk=dict(key.private_jwk),
                            created_at=key.created_at, retire_at=key.retire_at,
                        )
                    )
        self.invalidate()

    def rotate(self, alg: str, overlap_seconds: int) -> StoredKey:
        """Make a new active key for ``alg``; the old one stays published for the overlap."""
        now = self._clock.now()
        new_key = generate_key(alg, now)
        with self._db.write(audit=True) as conn:  # serialised like ensure_keys: one active key per alg
            conn.execute(
                update(signing_keys)
                .where(signing_keys.c.alg == alg, signing_keys.c.retire_at.is_(None))
                .values(retire_at=now + overlap_seconds)
            )
            conn.execute(
                insert(signing_keys).values(
                    kid=new_key.kid, alg=alg, private_jwk=dict(new_key.private_jwk),
                    created_at=now, retire_at=None,
                )
            )
        self.invalidate()
        return new_key

    def invalidate(self) -> None:
        with self._lock:
            self._ring = None

    def key_ring(self) -> KeyRing:
        now = self._clock.now()
        with self._lock:
            retired = self._next_retirement is not None and now >= self._next_retirement
            if self._ring is None or retired or now - self._loaded_at >= self._refresh:
                self.cache_misses += 1
                keys = self.stored_keys()
                self._ring = KeyRing(keys, now)
                self._loaded_at = now
                # A retired key must stop verifying (and leave the JWKS) at retire_at, not up
                # to ``refresh_seconds`` later.
                pending = [k.retire_at for k in keys if k.retire_at is not None and k.retire_at > now]
                self._next_retirement = min(pending) if pending else None
            else:
                self.cache_hits += 1
            return self._ring
