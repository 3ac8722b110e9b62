"""A token bucket per key in Redis, shared by every Deputy process that uses the same Redis."""

from __future__ import annotations

import logging
import threading
from typing import Any

from deputy.clock import Clock

log = logging.getLogger("deputy.ratelimit")

# Atomic on the Redis server: refill by the time elapsed, take one token if there is one, and
# keep the bucket only as long as it takes to refill. Returns -1 when allowed, else the seconds
# to wait. Times come from the callers' clocks (an injectable clock; keep hosts in NTP sync):
# a caller whose clock is behind never refills the bucket backwards.
_TAKE = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
if now > at then
  tokens = math.min(capacity, tokens + (now - at) * rate)
  at = now
end
local wait = -1
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return wait
"""


class RedisRateLimiter:
    """The same bucket as :class:`~deputy.ratelimit.memory_bucket.MemoryRateLimiter`, kept in Redis.

    When Redis does not answer (within half a second) the request is allowed: the limit is a
    fairness control, not what keeps tokens safe, and an outage of Redis must not stop token
    issuance. Each such failure is logged and counted (``errors``, exported as a metric).
    """

    def __init__(self, url: str, per_minute: int, burst: int, clock: Clock, *, prefix: str) -> None:
        import redis

        if per_minute <= 0 or burst <= 0:
            raise ValueError("per_minute and burst must be positive")
        self._rate = per_minute / 60.0
        self._capacity = burst
        self._clock = clock
        self._prefix = prefix
        self._redis_error: type[Exception] = redis.RedisError
        self._client: Any = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script: Any = self._client.register_script(_TAKE)
        self._lock = threading.Lock()
        self.errors = 0

    def take(self, key: str) -> int | None:
        try:
            wait = int(self._script(keys=[self._prefix + key], args=[self._rate, self._capacity, self._clock.now()]))
        except self._redis_error as exc:
            with self._lock:
                self.errors += 1
            log.warning("rate limit not applied: Redis failed (%s: %s)", exc.__class__.__name__, exc)
            return None
        return None if wait < 0 else max(1, wait)

    def close(self) -> None:
        self._client.close()
