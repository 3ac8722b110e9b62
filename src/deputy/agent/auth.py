"""``DownstreamAuth``: an ``httpx.Auth`` that sends a provider's token for the current user.

On a 401 whose ``WWW-Authenticate`` says ``error="invalid_token"`` (RFC 6750 §3.1: expired or
revoked before the vault thought so) it drops that token, gets a fresh one and retries once. The
same ``Auth`` object serves ``httpx.Client`` and ``httpx.AsyncClient``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Generator, Iterable

import httpx

from deputy.agent.broker import TokenBroker
from deputy.agent.token import Token, UserToken

__all__ = ["DownstreamAuth"]

_INVALID_TOKEN = re.compile(r'error\s*=\s*"?invalid_token"?', re.IGNORECASE)


def _token_refused(response: httpx.Response) -> bool:
    if response.status_code != 401:
        return False
    return any(_INVALID_TOKEN.search(v) for v in response.headers.get_list("www-authenticate"))


class DownstreamAuth(httpx.Auth):
    """``httpx.Client(auth=DownstreamAuth(broker, "incident-desk"))``.

    The user is the current request's, read when each request is sent; pass ``user_token`` to
    fix it instead.
    """

    requires_response_body = False

    def __init__(
        self, broker: TokenBroker, provider: str, scopes: Iterable[str] | None = None,
        *, user_token: str | UserToken | None = None,
    ) -> None:
        self.broker = broker
        self.provider = provider
        self.scopes = None if scopes is None else tuple(scopes)
        self.user_token = user_token

    def __repr__(self) -> str:
        return f"DownstreamAuth(provider={self.provider!r})"

    def _attach(self, request: httpx.Request, token: Token) -> None:
        request.headers["Authorization"] = token.authorization()

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.broker.get_token(self.provider, self.scopes, user_token=self.user_token)
        self._attach(request, token)
        response = yield request
        if _token_refused(response):
            response.read()
            self.broker.invalidate(self.provider, token, self.scopes, user_token=self.user_token)
            token = self.broker.get_token(self.provider, self.scopes, user_token=self.user_token)
            self._attach(request, token)
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.broker.aget_token(self.provider, self.scopes, user_token=self.user_token)
        self._attach(request, token)
        response = yield request
        if _token_refused(response):
            await response.aread()
            self.broker.invalidate(self.provider, token, self.scopes, user_token=self.user_token)
            token = await self.broker.aget_token(self.provider, self.scopes, user_token=self.user_token)
            self._attach(request, token)
            yield request
