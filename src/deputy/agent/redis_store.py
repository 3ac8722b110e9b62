"""A vault shared by agent processes on several machines: Redis, tokens encrypted at rest.

The same semantics as :class:`~deputy.agent.store.SQLiteVaultStore`: each entry is sealed with
AES-256-GCM under the key the processes share (``DEPUTY_VAULT_KEY``), its Redis key ends with a
SHA-256 of what it is for (no user names in Redis) which is also the associated data, so a
value copied onto another key does not open. An entry expires in Redis exactly when its token
does (``EXAT``). The leases of the cross-process single flight are ``SET NX PX`` keys owned by a
random value, released only by their owner (a Lua compare-and-delete), so a lease that ran out
and was taken by another process is never released by the first.

Needs the ``redis`` package (Deputy's ``redis`` extra); it is imported when a store is built
from a URL, never by ``import deputy.agent``.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from deputy.agent.errors import ConfigurationError
from deputy.agent.sealing import Sealer, refresh_id, row_id
from deputy.agent.store import REFRESH_TTL
from deputy.agent.token import Token
from deputy.agent.vault import VaultKey

if TYPE_CHECKING:
    from redis import Redis

__all__ = ["RedisVaultStore"]

FINGERPRINT = 16  # the value is the token's fingerprint (16 hex digits), then the sealed entry

# Delete KEYS[1] only if its value starts with ARGV[1] (a fingerprint, or a lease's owner).
_DELETE_IF = """
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, 1, string.len(ARGV[1])) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisVaultStore:
    """``RedisVaultStore("redis://127.0.0.1:6379/0")`` or ``RedisVaultStore(redis.Redis(...))``.

    ``key``: 32 bytes, base64url text, or None to read ``DEPUTY_VAULT_KEY``. ``prefix`` starts
    every Redis key (one per vault that shares a Redis). Also keeps user federation's refresh
    tokens, sealed, for ``refresh_ttl`` seconds after their last use.
    """

    def __init__(
        self,
        redis: Redis | str,
        *,
        key: bytes | str | None = None,
        prefix: str = "deputy:agent:",
        clock: Callable[[], float] = time.time,
        refresh_ttl: int = REFRESH_TTL,
    ) -> None:
        if isinstance(redis, str):
            try:
                from redis import Redis as Client
            except ImportError:  # pragma: no cover - the test extra installs it
                raise ConfigurationError("RedisVaultStore needs the redis package: pip install 'deputy[redis]'") from None
            redis = Client.from_url(redis)
        self._redis: Any = redis  # redis-py's command methods are typed loosely (sync and async in one)
        self._sealer = Sealer(key, f"vault store redis {prefix}")
        self.prefix = prefix
        self._clock = clock
        self.refresh_ttl = refresh_ttl
        self._delete_if = self._redis.register_script(_DELETE_IF)
        self._lock = threading.Lock()
        self._leases: dict[str, str] = {}  # entry id -> the owner value of the lease this store took

    def __repr__(self) -> str:
        return f"RedisVaultStore(prefix={self.prefix!r})"

    def close(self) -> None:
        self._redis.close()

    def _token_key(self, rid: str) -> str:
        return f"{self.prefix}token:{rid}"

    def load(self, key: VaultKey) -> Token | None:
        rid = row_id(key)
        value = self._redis.get(self._token_key(rid))
        if value is None:
            return None
        token = self._sealer.open_token(rid, bytes(value[FINGERPRINT:]))
        if token is None or token.expires_at <= self._clock():
            return None
        return token

    def save(self, key: VaultKey, token: Token) -> None:
        if token.expires_at <= self._clock():
            return  # already expired: nothing worth sharing
        rid = row_id(key)
        value = token.fingerprint.encode() + self._sealer.seal_token(rid, token)
        self._redis.set(self._token_key(rid), value, exat=int(token.expires_at))

    def delete(self, key: VaultKey, fingerprint: str | None = None) -> None:
        name = self._token_key(row_id(key))
        if fingerprint is None:
            self._redis.delete(name)
        else:
            self._delete_if(keys=[name], args=[fingerprint])

    def claim(self, key: VaultKey, seconds: int) -> bool:
        rid = row_id(key)
        owner = secrets.token_hex(16)
        if not self._redis.set(f"{self.prefix}lease:{rid}", owner, nx=True, px=int(seconds * 1000)):
            return False
        with self._lock:
            self._leases[rid] = owner
        return True

    def release(self, key: VaultKey) -> None:
        rid = row_id(key)
        with self._lock:
            owner = self._leases.pop(rid, None)
        if owner is not None:
            self._delete_if(keys=[f"{self.prefix}lease:{rid}"], args=[owner])

    # -- user federation's refresh tokens (RefreshTokenStore) --------------------------------

    def load_refresh_token(self, identity: tuple[str, str], provider: str, scopes: tuple[str, ...]) -> str | None:
        rid = refresh_id(identity, provider, scopes)
        value = self._redis.get(f"{self.prefix}refresh:{rid}")
        return None if value is None else self._sealer.open_refresh(rid, bytes(value))

    def save_refresh_token(
        self, identity: tuple[str, str], provider: str, scopes: tuple[str, ...], refresh_token: str
    ) -> None:
        rid = refresh_id(identity, provider, scopes)
        self._redis.set(f"{self.prefix}refresh:{rid}", self._sealer.seal_refresh(rid, refresh_token),
                        ex=self.refresh_ttl)

    def delete_refresh_token(self, identity: tuple[str, str], provider: str, scopes: tuple[str, ...]) -> None:
        self._redis.delete(f"{self.prefix}refresh:{refresh_id(identity, provider, scopes)}")
