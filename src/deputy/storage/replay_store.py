"""The replay cache for assertion ``jti`` values: an atomic insert-or-fail.

Concurrent marks share one write transaction (:mod:`deputy.storage.group_commit`): each is still
durable before it is answered, and a key marked twice in one batch wins once.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete

from deputy.clock import Clock
from deputy.errors import InvalidRequest
from deputy.storage.database import Database, has_nul
from deputy.storage.group_commit import GroupCommit
from deputy.storage.schema import replay_cache

# A key whose assertion has expired can no longer be replayed: free it. Then one insert per mark:
# it returns the key if this mark won, nothing if it was a replay.
_SQLITE_FREE_EXPIRED = "DELETE FROM replay_cache WHERE key = ? AND expires_at < ?"
_SQLITE_MARK = "INSERT INTO replay_cache (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING RETURNING key"
_PG_FREE_EXPIRED = "DELETE FROM replay_cache WHERE key = ANY(%s) AND expires_at < %s"
_PG_MARK = (
    "INSERT INTO replay_cache (key, expires_at) SELECT m.key, m.expires_at"
    " FROM unnest(%s::text[], %s::bigint[]) WITH ORDINALITY AS m(key, expires_at, n) ORDER BY n"
    " ON CONFLICT (key) DO NOTHING RETURNING key"
)


class ReplayStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
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
        if has_nul([key for key, _ in items]):  # as the SQLAlchemy path's guard does
            raise InvalidRequest("invalid_parameter", "a NUL character in a value sent to PostgreSQL")
        # On psycopg's raw cursor in pipeline mode (Database.pg_cursor): the same two steps as one
        # statement each for the whole batch, sent with the COMMIT in one round trip. The insert
        # takes the marks in order and returns the keys it stored: a key marked twice in the
        # batch is stored by its first mark, so that one wins and the later ones are replays.
        keys = [key for key, _ in items]
        with self._db.pg_cursor(write=True) as cursor:
            cursor.execute(_PG_FREE_EXPIRED, (list(dict.fromkeys(keys)), now))
            marks = cursor.connection.cursor()
            marks.execute(_PG_MARK, (keys, [expires_at for _, expires_at in items]))
        stored = {key for (key,) in marks.fetchall()}
        won: list[bool] = []
        for key in keys:
            won.append(key in stored)
            stored.discard(key)
        return won

    def purge(self) -> int:
        with self._db.write() as conn:
            result = conn.execute(delete(replay_cache).where(replay_cache.c.expires_at < self._clock.now()))
            return int(result.rowcount or 0)
