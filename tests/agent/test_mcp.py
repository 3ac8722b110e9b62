"""An MCP client session calls a protected MCP server as the user (``deputy.agent.mcp``).

A real Deputy; an MCP server (the ``mcp`` SDK's ``MCPServer``) whose tool returns the caller it
sees, protected as a whole by ``deputy.resource`` (introspecting, so a revoked token is refused)
and served by uvicorn; a ``ClientSession`` over streamable HTTP with a token exchanged for jane.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytest.importorskip("mcp", reason="the MCP integration needs the `mcp` package (extra `demo`)")

import httpx2
from mcp.server.mcpserver import Context, MCPServer

from deputy.agent import (
    ClientSecret,
    CredentialProvider,
    DownstreamRefused,
    NoUserToken,
    TokenBroker,
    TokenExchange,
    TokenRequestFailed,
    user_token,
)
from deputy.agent.mcp import MCPAuth, mcp_session
from deputy.resource import Introspection, TokenVerifier
from deputy.resource.asgi import ASGIApp, ProtectedResource, principal_of
from deputy.runtime import Deputy
from tests.agent.support import issued, with_healthz
from tests.conftest import AGENT, INCIDENTS
from tests.e2e.asgi_server import serving
from tests.e2e.server import free_port
from tests.protocol.support import add_agent


def incident_mcp(resource: ProtectedResource) -> ASGIApp:
    """The incident desk's MCP server: every request needs ``incidents:read``."""
    server = MCPServer("incident-desk")

    @server.tool()
    def whoami(ctx: Context) -> dict[str, Any]:
        """Who is calling, as the server verified it."""
        principal = principal_of(ctx.request_context.request)
        return {"sub": principal.user, "act": list(principal.chain), "client_id": principal.client_id,
                "scopes": sorted(principal.scopes), "jti": principal.token_id}

    return with_healthz(resource.protect(server.streamable_http_app(), "incidents:read", introspect=True))


@pytest.fixture
def mcp_url(deputy: Deputy, base: str) -> Iterator[str]:
    client, secret = add_agent(deputy, "incident-mcp", {})  # the server's introspection credential
    verifier = TokenVerifier(base, INCIDENTS, introspection=Introspection(client, secret))
    resource = ProtectedResource(verifier, scopes_supported=["incidents:read", "incidents:write"])
    with serving(incident_mcp(resource), free_port()) as url:
        yield f"{url}/mcp"


def broker_for(base: str, *scopes: str) -> TokenBroker:
    return TokenBroker([CredentialProvider(
        name="incident-mcp", flow=TokenExchange(), client=ClientSecret(*AGENT), issuer=base, resource=INCIDENTS,
        scopes=scopes,
    )])


def exchanges(base: str) -> int:
    return sum(1 for e in issued(base) if e.get("grant_type", "").endswith("token-exchange"))


def caller(result: Any) -> dict[str, Any]:
    assert not result.is_error, result
    if result.structured_content is not None:
        return dict(result.structured_content)
    return dict(json.loads(result.content[0].text))


def test_the_tool_sees_jane_and_the_agent(deputy: Deputy, base: str, mcp_url: str) -> None:
    broker = broker_for(base, "incidents:read")
    jane = deputy.admin("test").issue_user_token("jane", "incident-agent")

    async def main() -> list[dict[str, Any]]:
        seen = []
        with user_token(jane, issuer=base, subject="jane"):
            async with mcp_session(mcp_url, broker, "incident-mcp") as session:
                tools = await session.list_tools()
                assert [t.name for t in tools.tools] == ["whoami"]
                seen.append(caller(await session.call_tool("whoami", {})))
                seen.append(caller(await session.call_tool("whoami", {})))
            async with mcp_session(mcp_url, broker, "incident-mcp") as session:  # a second session
                seen.append(caller(await session.call_tool("whoami", {})))
        return seen

    seen = asyncio.run(main())
    assert [(s["sub"], s["act"], s["client_id"]) for s in seen] == [("jane", ["incident-agent"], "incident-agent")] * 3
    assert seen[0]["scopes"] == ["incidents:read"]
    assert exchanges(base) == 1  # one exchange: every request of both sessions reused the vault
    assert len({s["jti"] for s in seen}) == 1


def test_the_session_acts_for_the_user_it_opened_for(deputy: Deputy, base: str, mcp_url: str) -> None:
    """Bob's session stays Bob's even when called from jane's context; no user at all fails at once."""
    broker = broker_for(base, "incidents:read")
    admin = deputy.admin("test")
    jane, bob = admin.issue_user_token("jane", "incident-agent"), admin.issue_user_token("bob", "incident-agent")

    async def main() -> str:
        with pytest.raises(NoUserToken, match="incident-mcp"):
            async with mcp_session(mcp_url, broker, "incident-mcp"):
                pass  # pragma: no cover - never opened
        async with mcp_session(mcp_url, broker, "incident-mcp", user_token=bob) as session:
            with user_token(jane, issuer=base, subject="jane"):
                return str(caller(await session.call_tool("whoami", {}))["sub"])

    assert asyncio.run(main()) == "bob"


def test_scopes_the_server_does_not_accept(deputy: Deputy, base: str, mcp_url: str) -> None:
    """A token for incidents:write only: the server wants incidents:read and says so (403); the
    error names the provider, the status, the error and the scope needed."""
    broker = broker_for(base, "incidents:write")
    jane = deputy.admin("test").issue_user_token("jane", "incident-agent")

    async def main() -> None:
        async with mcp_session(mcp_url, broker, "incident-mcp", user_token=jane):
            pass  # pragma: no cover - refused at initialization

    with pytest.raises(DownstreamRefused) as refused:
        asyncio.run(main())
    error = refused.value
    assert (error.provider, error.status, error.error, error.scope) == (
        "incident-mcp", 403, "insufficient_scope", "incidents:read")
    assert "incident-mcp" in str(error) and "incidents:read" in str(error) and mcp_url in str(error)
    assert broker.get_token("incident-mcp", user_token=jane).value not in str(error)


def test_scopes_deputy_will_not_grant(deputy: Deputy, base: str, mcp_url: str) -> None:
    """jane (IT) has no hr:read: Deputy refuses the exchange, before any MCP request is sent."""
    broker = broker_for(base, "hr:read")
    jane = deputy.admin("test").issue_user_token("jane", "incident-agent")

    async def main() -> None:
        async with mcp_session(mcp_url, broker, "incident-mcp", user_token=jane):
            pass  # pragma: no cover

    with pytest.raises(TokenRequestFailed) as refused:
        asyncio.run(main())
    assert refused.value.provider == "incident-mcp" and refused.value.flow == "token_exchange"
    assert refused.value.status == 400 and refused.value.error is not None
    assert jane not in str(refused.value)


def test_a_revoked_token_is_exchanged_again_once(deputy: Deputy, base: str, mcp_url: str) -> None:
    broker = broker_for(base, "incidents:read")
    jane = deputy.admin("test").issue_user_token("jane", "incident-agent")

    async def main() -> tuple[str, str, str]:
        async with mcp_session(mcp_url, broker, "incident-mcp", user_token=jane) as session:
            first = caller(await session.call_tool("whoami", {}))
            held = await broker.aget_token("incident-mcp", user_token=jane)
            async with httpx.AsyncClient() as http:
                assert (await http.post(f"{base}/revoke", data={"token": held.value}, auth=AGENT)).status_code == 200
            second = caller(await session.call_tool("whoami", {}))
        return first["jti"], second["jti"], second["sub"]

    first, second, sub = asyncio.run(main())
    assert first != second and sub == "jane"
    assert exchanges(base) == 2  # the refused token was replaced once, not per request


def test_the_auth_retries_once_and_records_the_refusal() -> None:
    """MCPAuth on a blocking httpx2 client: one refresh after invalid_token; a second refusal is
    returned as it is and recorded, without the token."""
    from tests.agent.fake_as import TOKEN_URL, FakeWorld

    world = FakeWorld()
    broker = world.broker()
    calls: list[str] = []

    def api(request: httpx2.Request) -> httpx2.Response:
        if str(request.url) == TOKEN_URL:  # pragma: no cover - the broker uses its own httpx client
            raise AssertionError("token requests go through the broker")
        calls.append(request.headers["authorization"])
        return httpx2.Response(401, headers={"WWW-Authenticate": 'Bearer error="invalid_token", '
                                                                  'error_description="token revoked"'})

    auth = MCPAuth(broker, "api", user_token="jane-token")
    with httpx2.Client(transport=httpx2.MockTransport(api), auth=auth) as client:
        response = client.post("https://api.example/mcp", json={})
    assert response.status_code == 401 and len(calls) == 2 and calls[0] != calls[1]
    assert world.exchanges == 2
    assert auth.refusal is not None and auth.refusal.error == "invalid_token"
    assert auth.refusal.description == "token revoked"
    assert "tok-" not in str(auth.refusal) and "tok-" not in repr(auth)
