"""Rate limits at the token endpoint: per client and per user (docs/operations.md).

The endpoint asks a :class:`RateLimiter` (a token bucket per key, in this process or shared
through Redis: ``deputy.ratelimit``) and refuses with :class:`~deputy.errors.RateLimited` (429 and
Retry-After); the refusal is audited like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from deputy.constants import GRANT_JWT_BEARER, GRANT_TOKEN_EXCHANGE
from deputy.errors import RateLimited

# The per-user limit is checked once the grant has identified the user, i.e. after it ran. Only
# grants whose run leaves nothing behind are limited per user: refusing an authorization_code or
# refresh_token request at that point would burn the code or rotate the refresh token for a
# response the client never sees. Those grants are limited per client only.
USER_LIMITED_GRANTS = frozenset({GRANT_TOKEN_EXCHANGE, GRANT_JWT_BEARER})


class RateLimiter(Protocol):
    def take(self, key: str) -> int | None:
        """Take one request from ``key``'s bucket: None when allowed, else the whole seconds
        until the bucket holds a request again."""
        ...


@dataclass(frozen=True)
class TokenRateLimits:
    per_client: RateLimiter | None = None
    per_user: RateLimiter | None = None

    def check_client(self, client_id: str) -> None:
        if self.per_client is not None:
            wait = self.per_client.take(client_id)
            if wait is not None:
                raise RateLimited("rate_limited_client", f"client {client_id}", retry_after=wait)

    def check_user(self, grant_type: str, subject: str, mode: str) -> None:
        if self.per_user is None or grant_type not in USER_LIMITED_GRANTS or mode == "client":
            return
        wait = self.per_user.take(subject)
        if wait is not None:
            raise RateLimited("rate_limited_user", f"user {subject}", retry_after=wait)
