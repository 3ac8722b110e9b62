"""The token vault: downstream tokens kept in memory, reused until shortly before they expire.

Keyed by :class:`VaultKey` (the user's identity, the provider, the audience/resource, the
scopes). Single-flight: when N callers miss the same key at once, one of them runs the exchange
and the others wait for its result, both for threads (:meth:`TokenVault.get`) and for asyncio
tasks (:meth:`TokenVault.aget`). Bounded: least recently used entries go first. With a
``store`` (:class:`~deputy.agent.store.SQLiteVaultStore`,
:class:`~deputy.agent.redis_store.RedisVaultStore`) tokens are also written, encrypted, where
other agent processes find them. Keys hold no
token, only the user's identity, so the vault's contents are safe to list and log.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from deputy.agent.token import Token

if TYPE_CHECKING:
    from deputy.agent.store import VaultStore

__all__ = ["TokenVault", "VaultKey"]


@dataclass(frozen=True)
class VaultKey:
    """What a downstream token is for. ``user`` is (iss, sub), ("unverified", fingerprint) for
    an unverified user token, or ("agent", "") for a machine-to-machine token."""

    user: tuple[str, str]
    provider: str
    audience: str | None
    resource: str | None
    scopes: frozenset[str]


LEASE_POLL = 0.05  # seconds between looks at the shared store while another process exchanges


class _Flight:
    """One exchange in progress, that other threads wait for."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.token: Token | None = None
        self.error: BaseException | None = None


class TokenVault:
    """In-memory, thread- and asyncio-safe, bounded (``max_entries``, LRU).

    A token is reused while ``now < expires_at - refresh_margin``. ``clock`` is injectable.
    """

    def __init__(
        self,
        *,
        max_entries: int = 1024,
        refresh_margin: int = 30,
        clock: Callable[[], float] = time.time,
        store: VaultStore | None = None,
        lease_seconds: int = 10,
    ) -> None:
        if max_entries < 1 or refresh_margin < 0:
            raise ValueError("need max_entries >= 1 and refresh_margin >= 0")
        self.max_entries = max_entries
        self.refresh_margin = refresh_margin
        self._clock = clock
        self.store = store
        self.lease_seconds = lease_seconds
        self._lock = threading.Lock()
        self._entries: OrderedDict[VaultKey, Token] = OrderedDict()
        self._flights: dict[VaultKey, _Flight] = {}
        self._aflights: dict[tuple[asyncio.AbstractEventLoop, VaultKey], asyncio.Future[Token]] = {}

    def __repr__(self) -> str:
        return f"TokenVault(entries={len(self)}, max_entries={self.max_entries})"

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def cached_keys(self) -> list[VaultKey]:
        with self._lock:
            return list(self._entries)

    def peek(self, key: VaultKey) -> Token | None:
        """The cached token if still fresh (counts as a use for the LRU order)."""
        with self._lock:
            return self._fresh(key)

    def _fresh(self, key: VaultKey) -> Token | None:
        token = self._entries.get(key)
        if token is None:
            return None
        if self._clock() >= token.expires_at - self.refresh_margin:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return token

    def put(self, key: VaultKey, token: Token) -> None:
        if self.store is not None:
            self.store.save(key, token)
        self._remember(key, token)

    def _remember(self, key: VaultKey, token: Token) -> None:
        with self._lock:
            self._entries[key] = token
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def invalidate(self, key: VaultKey, token: Token | None = None) -> bool:
        """Drop the entry (only if it still holds ``token``, when given: after a 401, so that
        concurrent retries drop it once). True if something was dropped."""
        with self._lock:
            held = self._entries.get(key)
            dropped = held is not None and (token is None or held.fingerprint == token.fingerprint)
            if dropped:
                del self._entries[key]
        if self.store is not None:
            self.store.delete(key, token.fingerprint if token is not None else None)
        return dropped

    def _stored(self, key: VaultKey) -> Token | None:
        """A fresh token another process put in the shared store, if any."""
        if self.store is None:
            return None
        token = self.store.load(key)
        if token is None or self._clock() >= token.expires_at - self.refresh_margin:
            return None
        self._remember(key, token)
        return token

    # -- single flight across processes (a store with leases) ----------------------------------

    def _wait_for_other_process(self, key: VaultKey) -> Token | None:
        """None when this process should exchange (it holds the lease, or the other's ran out);
        else the token another process stored while holding it."""
        if self.store is None:
            return None
        deadline = time.monotonic() + self.lease_seconds
        while True:
            settled, token = self._claim_or_find(key)
            if settled or time.monotonic() >= deadline:
                return token
            time.sleep(LEASE_POLL)

    async def _await_other_process(self, key: VaultKey) -> Token | None:
        if self.store is None:
            return None
        deadline = time.monotonic() + self.lease_seconds
        while True:
            settled, token = self._claim_or_find(key)
            if settled or time.monotonic() >= deadline:
                return token
            await asyncio.sleep(LEASE_POLL)

    def _claim_or_find(self, key: VaultKey) -> tuple[bool, Token | None]:
        """(True, None): the lease is ours, exchange. (True, token): another process stored one.
        (False, None): another process holds the lease, look again later."""
        if self.store is None:  # pragma: no cover - the callers check
            return True, None
        if not self.store.claim(key, self.lease_seconds):
            token = self._stored(key)
            return token is not None, token
        # Look again under the lease: the previous holder may have stored its token and released
        # the lease between our first look and our claim; exchanging again would be a waste.
        token = self._stored(key)
        if token is not None:
            self.store.release(key)
            return True, token
        return True, None

    def _release(self, key: VaultKey) -> None:
        if self.store is not None:
            self.store.release(key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    # -- single-flight ------------------------------------------------------------------------

    def get(self, key: VaultKey, fetch: Callable[[], Token]) -> Token:
        """The cached token, or the result of ``fetch()`` run once for all concurrent callers."""
        with self._lock:
            token = self._fresh(key)
            if token is not None:
                return token
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            if flight.token is None:  # pragma: no cover - the leader sets one of the two
                raise RuntimeError("token exchange ended without a result")
            return flight.token
        try:
            token = self._stored(key) or self._wait_for_other_process(key)
            if token is None:
                try:
                    token = fetch()
                    self.put(key, token)
                finally:
                    self._release(key)
            flight.token = token
            return token
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()

    async def aget(self, key: VaultKey, fetch: Callable[[], Awaitable[Token]]) -> Token:
        """:meth:`get` for asyncio: concurrent tasks on one loop share one ``fetch``."""
        loop = asyncio.get_running_loop()
        with self._lock:
            token = self._fresh(key)
            if token is not None:
                return token
            future = self._aflights.get((loop, key))
            leader = future is None
            if future is None:
                future = self._aflights[(loop, key)] = loop.create_future()
        if not leader:
            return await asyncio.shield(future)
        try:
            token = self._stored(key) or await self._await_other_process(key)
            if token is None:
                try:
                    token = await fetch()
                    self.put(key, token)
                finally:
                    self._release(key)
            future.set_result(token)
            return token
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here: waiters re-raise it, nobody logs it as lost
            raise
        finally:
            with self._lock:
                del self._aflights[(loop, key)]
