"""The replay cache for assertion ``jti`` values: an atomic insert-or-fail."""

from __future__ import annotations

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError

from deputy.clock import Clock
from deputy.storage.database import Database
from deputy.storage.schema import replay_cache


class ReplayStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def mark_used(self, key: str, expires_at: int) -> bool:
        now = self._clock.now()
        try:
            with self._db.write() as conn:
                # A key whose assertion has expired can no longer be replayed; free it.
                conn.execute(delete(replay_cache).where(replay_cache.c.key == key, replay_cache.c.expires_at < now))
                conn.execute(insert(replay_cache).values(key=key, expires_at=expires_at))
            return True
        except IntegrityError:
            return False

    def purge(self) -> int:
        with self._db.write() as conn:
            result = conn.execute(delete(replay_cache).where(replay_cache.c.expires_at < self._clock.now()))
            return int(result.rowcount or 0)
