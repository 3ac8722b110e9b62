"""A token bucket per key, in this process."""

from __future__ import annotations

import math
import threading

from deputy.clock import Clock


class MemoryRateLimiter:
    """``per_minute`` requests a minute per key, up to ``burst`` at once. Each worker process
    keeps its own buckets: with N workers a key gets up to N times the limit (use Redis to
    share them)."""

    MAX_KEYS = 100_000

    def __init__(self, per_minute: int, burst: int, clock: Clock) -> None:
        if per_minute <= 0 or burst <= 0:
            raise ValueError("per_minute and burst must be positive")
        self._rate = per_minute / 60.0  # tokens a second
        self._capacity = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, int]] = {}  # key -> (tokens, as of)
        self._lock = threading.Lock()
        self._sweep_at = self.MAX_KEYS
        self.errors = 0  # never fails; here for the same metrics as the Redis limiter

    def take(self, key: str) -> int | None:
        now = self._clock.now()
        with self._lock:
            tokens, at = self._buckets.get(key, (self._capacity, now))
            if now > at:  # a clock that steps back never refills
                tokens = min(self._capacity, tokens + (now - at) * self._rate)
                at = now
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, at)
                if len(self._buckets) > self._sweep_at:
                    self._forget_full(now)
                    # amortised: the next sweep waits until the table has doubled again
                    self._sweep_at = max(self.MAX_KEYS, 2 * len(self._buckets))
                return None
            self._buckets[key] = (tokens, at)
            return max(1, math.ceil((1 - tokens) / self._rate))

    def _forget_full(self, now: int) -> None:
        """Drop buckets that have refilled: they are the same as no bucket at all. Memory then
        stays within twice the keys that were active within one refill period."""
        full = [k for k, (tokens, at) in self._buckets.items()
                if tokens + (now - at) * self._rate >= self._capacity]
        for key in full:
            del self._buckets[key]
