"""The replay cache for assertion ``jti`` values: an atomic insert-or-fail.

Concurrent marks share one write transaction (:mod:`deputy.storage.group_commit`): each is still
durable before it is answered, and a key marked twice in one batch wins once.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite

from deputy.clock import Clock
from deputy.storage.database import Database
from deputy.storage.group_commit import GroupCommit
from deputy.storage.schema import replay_cache

# A key whose assertion has expired can no longer be replayed; free it.
_FREE_EXPIRED = delete(replay_cache).where(
    replay_cache.c.key == bindparam("k"), replay_cache.c.expires_at < bindparam("now")
)

_SQLITE_FREE_EXPIRED = "DELETE FROM replay_cache WHERE key = ? AND expires_at < ?"
_SQLITE_MARK = "INSERT INTO replay_cache (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING RETURNING key"


class ReplayStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        dialect = sqlite if db.is_sqlite else postgresql
        self._insert = (
            dialect.insert(replay_cache).on_conflict_do_nothing(index_elements=["key"]).returning(replay_cache.c.key)
        )
        self._marks: GroupCommit[tuple[str, int], bool] = GroupCommit(self._mark_all)

    def mark_used(self, key: str, expires_at: int) -> bool:
        return self._marks.submit((key, expires_at))

    def _mark_all(self, items: Sequence[tuple[str, int]]) -> list[bool]:
        now = self._clock.now()
        if self._db.is_sqlite:  # the same statements on the raw cursor (Database.sqlite_cursor)
            with self._db.sqlite_cursor(write=True) as cursor:
                cursor.executemany(_SQLITE_FREE_EXPIRED, [(key, now) for key in dict.fromkeys(k for k, _ in items)])
                return [
                    bool(cursor.execute(_SQLITE_MARK, (key, expires_at)).fetchall()) for key, expires_at in items
                ]
        with self._db.write() as conn:
            conn.execute(_FREE_EXPIRED, [{"k": key, "now": now} for key in dict.fromkeys(k for k, _ in items)])
            # One insert per mark: it returns the key if this mark won, nothing if it was a replay.
            return [
                conn.execute(self._insert, {"key": key, "expires_at": expires_at}).first() is not None
                for key, expires_at in items
            ]

    def purge(self) -> int:
        with self._db.write() as conn:
            result = conn.execute(delete(replay_cache).where(replay_cache.c.expires_at < self._clock.now()))
            return int(result.rowcount or 0)
