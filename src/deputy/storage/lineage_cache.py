"""Recently read token lineages, for the subject token of an exchange.

Agents exchange the same user token many times (one per tool call, per audience); reading its
lineage from the database on every exchange was about a sixth of the token endpoint's time. A
lineage record never changes except for ``revoked_at``, so what a cached lineage can get wrong
is only a revocation that happened after the read. Two things bound that:

- the cache is used only where the issuance's durable write re-checks the direct parent inside
  its transaction and refuses if it was revoked meanwhile (:meth:`TokenStore.record_issuance`;
  revocation cascades down the tree, so a revoked ancestor means a revoked parent). A revoked
  subject token is therefore never exchanged, cached or not;
- an entry is served for at most ``max_age`` seconds (1 s, timed from before the read that
  filled it), and a revocation made through this process empties the cache at once, so the
  refusal normally comes early, before any signing.

Only chains in which nothing is revoked are kept (a refusal is not worth caching). Unknown
token ids cannot grow the cache beyond :data:`MAX_ENTRIES`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from deputy.protocol.ports import TokenRecord

MAX_ENTRIES = 10_000


class LineageCache:
    def __init__(self, max_age: float = 1.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._max_age = max_age
        self._monotonic = monotonic
        # jti -> (lineage, generation at read, monotonic time at read)
        self._entries: dict[str, tuple[tuple[TokenRecord, ...], int, float]] = {}
        self._generation = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, jti: str, load: Callable[[], Sequence[TokenRecord]]) -> list[TokenRecord]:
        generation = self._generation
        now = self._monotonic()
        entry = self._entries.get(jti)
        if entry is not None and entry[1] == generation and now - entry[2] < self._max_age:
            self.hits += 1
            return list(entry[0])
        self.misses += 1
        lineage = tuple(load())  # generation and time taken before the read: never fresher than it
        if lineage and all(record.revoked_at is None for record in lineage) and self._max_age > 0:
            with self._lock:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                self._entries[jti] = (lineage, generation, now)
        return list(lineage)

    def invalidate(self) -> None:
        """A revocation through this process: nothing read before it is served after it."""
        with self._lock:
            self._generation += 1
            self._entries.clear()
