"""An in-process cache of the realm reads on the token path (agents, users, resources,
entitlements), so that an exchange does not spend most of its time re-reading a realm that
rarely changes.

Freshness (issue #8: a suspension made through one process is honoured by every other within
one second):

- a write committed through this process (any ``Database`` on the same URL: the admin API, the
  CLI, a provisioning step) empties the cache at once: :class:`~deputy.storage.database.Database`
  counts commits that touched a realm table, and an entry read before such a commit is never
  served after it;
- a write committed by another process is seen within ``max_age`` seconds (default 1): an entry
  is served only while younger than that, timed from before the read that filled it.

Token revocations are not cached: the lineage of a subject token is read on every exchange.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import TypeVar

from deputy.realm import Agent, Resource, User
from deputy.storage.database import Database
from deputy.storage.realm_store import RealmStore

T = TypeVar("T")

MAX_ENTRIES = 10_000  # unknown client ids must not grow the cache without bound


class RealmCache:
    """The :class:`~deputy.protocol.ports.RealmReader` of the protocol core, over a
    :class:`RealmStore`."""

    def __init__(self, store: RealmStore, db: Database, max_age: float = 1.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._db = db
        self._max_age = max_age
        self._monotonic = monotonic
        # key -> (value, generation at read, monotonic time at read)
        self._entries: dict[Hashable, tuple[object, int, float]] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _get(self, key: Hashable, load: Callable[[], T]) -> T:
        generation = self._db.realm_generation()
        now = self._monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[1] == generation and now - entry[2] < self._max_age:
            self.hits += 1
            return entry[0]  # type: ignore[return-value]
        self.misses += 1
        value = load()  # generation and time were taken before the read: never fresher than it
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (value, generation, now)
        return value

    @property
    def cache_hits(self) -> int:
        """Look-ups answered from the cache (the metrics read these)."""
        return self.hits

    @property
    def cache_misses(self) -> int:
        return self.misses

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def get_agent(self, client_id: str) -> Agent | None:
        return self._get(("agent", client_id), lambda: self._store.get_agent(client_id))

    def get_user(self, username: str) -> User | None:
        return self._get(("user", username), lambda: self._store.get_user(username))

    def get_resource(self, identifier: str) -> Resource | None:
        return self._get(("resource", identifier), lambda: self._store.get_resource(identifier))

    def user_entitlements(self, username: str, resource: str) -> frozenset[str]:
        return self._get(("entitlements", username, resource),
                         lambda: self._store.user_entitlements(username, resource))
