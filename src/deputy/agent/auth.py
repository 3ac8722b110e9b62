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

__all__ = ["DownstreamAuth", "read_challenge", "token_refused"]

_PARAM = re.compile(r'([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
MAX_CHALLENGE = 4096


def read_challenge(values: Iterable[str]) -> dict[str, str]:
    """The auth-params of ``WWW-Authenticate`` challenges (RFC 6750 §3): ``error``,
    ``error_description``, ``scope``, ... (the first value of each wins)."""
    params: dict[str, str] = {}
    for value in values:
        for match in _PARAM.finditer(value[:MAX_CHALLENGE]):
            params.setdefault(match.group(1).lower(), match.group(2) if match.group(2) is not None else match.group(3))
    return params


def token_refused(status: int, challenges: Iterable[str]) -> bool:
    """A 401 whose challenge says ``error="invalid_token"``: expired or revoked, worth one refresh."""
    return status == 401 and read_challenge(challenges).get("error") == "invalid_token"


def _token_refused(response: httpx.Response) -> bool:
    return token_refused(response.status_code, response.headers.get_list("www-authenticate"))


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
