"""MCP: a client session that calls a protected MCP server as the user, over streamable HTTP.

The MCP Python SDK (``mcp`` 2, Deputy's ``demo`` extra) sends its HTTP through ``httpx2``, not
httpx, so :class:`~deputy.agent.DownstreamAuth` cannot be handed to it. :class:`MCPAuth` is the
same thing for ``httpx2``: it attaches the provider's token for the user, and on a 401 with
``error="invalid_token"`` drops that token from the vault, gets a fresh one and retries once.
:func:`mcp_session` opens an initialized ``ClientSession`` with it::

    async with mcp_session("https://tools.example/mcp", broker, "incident-mcp") as session:
        result = await session.call_tool("query_incidents", {"limit": 5})

A session acts for one user: the user token given, or the current one when it opens (the
transport's background requests run outside the caller's context). The token is exchanged
before the session opens, so a refused exchange raises
:class:`~deputy.agent.errors.TokenRequestFailed` right there; a server refusing the token (HTTP
401/403) at initialization raises :class:`~deputy.agent.errors.DownstreamRefused` with its
challenge.

This module imports ``mcp`` and ``httpx2``; ``import deputy.agent`` never imports it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from deputy.agent.auth import read_challenge, token_refused
from deputy.agent.broker import TokenBroker
from deputy.agent.errors import DownstreamRefused
from deputy.agent.token import Token, UserToken

__all__ = ["MCPAuth", "mcp_session"]

log = logging.getLogger("deputy.agent")

TIMEOUT = 30.0  # seconds, as the MCP SDK's own client
SSE_READ_TIMEOUT = 300.0  # a server may hold an event stream open


class MCPAuth(httpx2.Auth):
    """``httpx2.AsyncClient(auth=MCPAuth(broker, "incident-mcp", user_token=user))``.

    Without ``user_token`` the user is the current request's, read when each request is sent.
    ``refusal`` holds the last 401/403 the server answered (as a :class:`DownstreamRefused`).
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
        self.refusal: DownstreamRefused | None = None

    def __repr__(self) -> str:
        return f"MCPAuth(provider={self.provider!r})"

    def sync_auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        token = self.broker.get_token(self.provider, self.scopes, user_token=self.user_token)
        request.headers["Authorization"] = token.authorization()
        response = yield request
        if self._refused(response):
            response.read()
            self._drop(token)
            token = self.broker.get_token(self.provider, self.scopes, user_token=self.user_token)
            request.headers["Authorization"] = token.authorization()
            response = yield request
        self._note(request, response)

    async def async_auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        token = await self.broker.aget_token(self.provider, self.scopes, user_token=self.user_token)
        request.headers["Authorization"] = token.authorization()
        response = yield request
        if self._refused(response):
            await response.aread()
            self._drop(token)
            token = await self.broker.aget_token(self.provider, self.scopes, user_token=self.user_token)
            request.headers["Authorization"] = token.authorization()
            response = yield request
        self._note(request, response)

    def _refused(self, response: httpx2.Response) -> bool:
        return token_refused(response.status_code, response.headers.get_list("www-authenticate"))

    def _drop(self, token: Token) -> None:
        log.info("provider %s: token %s refused by the MCP server (invalid_token); getting a new one",
                 self.provider, token.fingerprint)
        self.broker.invalidate(self.provider, token, self.scopes, user_token=self.user_token)

    def _note(self, request: httpx2.Request, response: httpx2.Response) -> None:
        if response.status_code not in (401, 403):
            return
        said = read_challenge(response.headers.get_list("www-authenticate"))
        self.refusal = DownstreamRefused(
            self.provider, str(request.url.copy_with(query=None)), response.status_code,
            said.get("error"), said.get("error_description", "")[:300] or None, said.get("scope"),
        )
        log.info("%s", self.refusal)


@asynccontextmanager
async def mcp_session(
    url: str,
    broker: TokenBroker,
    provider: str,
    scopes: Iterable[str] | None = None,
    *,
    user_token: str | UserToken | None = None,
    timeout: float = TIMEOUT,
    sse_read_timeout: float = SSE_READ_TIMEOUT,
    **session_options: Any,
) -> AsyncIterator[ClientSession]:
    """An initialized MCP ``ClientSession`` to ``url`` (streamable HTTP) acting for the user,
    with ``provider``'s token for ``scopes``. ``session_options`` go to ``ClientSession``."""
    wanted = None if scopes is None else tuple(scopes)
    user = broker.key(provider, wanted, user_token)[1]  # fixed for the session; NoUserToken if none
    await broker.aget_token(provider, wanted, user_token=user)  # a refused exchange fails here, clearly
    auth = MCPAuth(broker, provider, wanted, user_token=user)
    refused: DownstreamRefused | None = None
    async with (
        httpx2.AsyncClient(auth=auth, timeout=httpx2.Timeout(timeout, read=sse_read_timeout)) as client,
        streamable_http_client(url, http_client=client) as (read, write),
        ClientSession(read, write, **session_options) as session,
    ):
        try:
            await session.initialize()
        except MCPError:
            if auth.refusal is None:
                raise
            refused = auth.refusal
        else:
            yield session
    if refused is not None:  # raised out here: the transport's task group would wrap it
        raise refused
