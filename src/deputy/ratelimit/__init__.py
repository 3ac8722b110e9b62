"""Token buckets for the token endpoint's rate limits: in this process, or shared by every
process through Redis (``redis_url``). See docs/operations.md."""

from __future__ import annotations

from deputy.clock import Clock
from deputy.config import Settings
from deputy.protocol.rate_limit import TokenRateLimits
from deputy.ratelimit.memory_bucket import MemoryRateLimiter
from deputy.ratelimit.redis_bucket import RedisRateLimiter

__all__ = ["MemoryRateLimiter", "RedisRateLimiter", "rate_limits_for"]


def rate_limits_for(settings: Settings, clock: Clock) -> TokenRateLimits:
    """The limits the settings ask for; both off (the default) costs nothing per request."""

    def limiter(kind: str, per_minute: int) -> MemoryRateLimiter | RedisRateLimiter | None:
        if per_minute <= 0:
            return None
        burst = settings.rate_limit_burst or per_minute
        if settings.redis_url:
            prefix = f"deputy:ratelimit:{settings.issuer}:{kind}:"
            return RedisRateLimiter(settings.redis_url, per_minute, burst, clock, prefix=prefix)
        return MemoryRateLimiter(per_minute, burst, clock)

    return TokenRateLimits(
        per_client=limiter("client", settings.rate_limit_per_client),
        per_user=limiter("user", settings.rate_limit_per_user),
    )
