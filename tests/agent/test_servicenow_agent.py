"""The guide's rewrite of seed 000's ServiceNow agent (tests/agent/servicenow_agent.py): three
tools, one per operation, run by two "frameworks" against a real Deputy and the protected
incident desk of tests/resource/test_end_to_end.py:

- called as plain functions, the way Strands' ``@tool`` (or any framework's wrapper) calls them;
- served as MCP tools by the ``mcp`` SDK's ``MCPServer`` behind ``InboundAuthorizer``, called by
  jane's front end over streamable HTTP with her token.

Either way the desk sees the user acting through incident-agent (and bob, who may only read,
cannot update), and the model never sees (or chooses) the token parameter.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any

import pytest

from deputy.agent import (
    ClientSecret,
    CredentialProvider,
    InboundAuthorizer,
    TokenBroker,
    TokenExchange,
    user_token,
)
from deputy.runtime import Deputy
from tests.agent.servicenow_agent import tools
from tests.agent.support import issued, with_healthz
from tests.conftest import AGENT, INCIDENTS
from tests.e2e.asgi_server import serving
from tests.e2e.server import free_port
from tests.resource.test_end_to_end import world  # noqa: F401 - the fixture


def servicenow(base: str) -> TokenBroker:
    return TokenBroker([CredentialProvider(
        name="servicenow", flow=TokenExchange(), client=ClientSecret(*AGENT), issuer=base, resource=INCIDENTS,
        scopes=("incidents:read",),
    )])


def exchanges(base: str) -> int:
    return sum(1 for e in issued(base) if str(e.get("grant_type", "")).endswith("token-exchange"))


def test_as_plain_functions(deputy: Deputy, world: tuple[str, str]) -> None:  # noqa: F811
    base, desk = world
    query_incidents, get_incident, update_incident = tools(servicenow(base), desk)
    for tool in (query_incidents, get_incident, update_incident):
        assert "access_token" not in inspect.signature(tool).parameters  # what frameworks show the model
        assert "access_token" not in tool.__annotations__
    jane = deputy.admin("test").issue_user_token("jane", "incident-agent")
    with user_token(jane, issuer=base, subject="jane"):
        listed = json.loads(query_incidents(limit=5))
        one = json.loads(get_incident("INC0010001"))
        forged = json.loads(query_incidents(access_token="forged-by-the-model"))  # overwritten
        updated = json.loads(update_incident("1", {"state": "2"}))
    for answer in (listed, one, forged):
        assert answer["caller"]["user"] == "jane" and answer["caller"]["agent"] == "incident-agent", answer
        assert answer["caller"]["scopes"] == ["incidents:read"]
    assert updated["updated"] is True and updated["caller"]["scopes"] == ["incidents:write"]
    assert exchanges(base) == 2  # one per scope set: the reads shared one token


def test_the_same_tools_as_mcp_tools(deputy: Deputy, world: tuple[str, str]) -> None:  # noqa: F811
    pytest.importorskip("mcp", reason="the MCP half needs the `mcp` package (extra `demo`)")
    import httpx2
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client
    from mcp.server.mcpserver import MCPServer

    base, desk = world
    server = MCPServer("servicenow-agent")
    for tool in tools(servicenow(base), desk):
        server.tool()(tool)
    agent = InboundAuthorizer.for_issuer(server.streamable_http_app(), base, ["incident-agent"],
                                         allowed_clients=["incident-agent"])
    admin = deputy.admin("test")
    jane, bob = admin.issue_user_token("jane", "incident-agent"), admin.issue_user_token("bob", "incident-agent")

    async def front_end(url: str, token: str) -> dict[str, Any]:
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            listed = await session.list_tools()
            schemas = {t.name: sorted(t.input_schema.get("properties", {})) for t in listed.tools}
            answers = {}
            for name, arguments in (("query_incidents", {"limit": 5}), ("get_incident", {"number": "INC0010001"}),
                                    ("update_incident", {"sys_id": "1", "updates": {"state": "2"}})):
                result = await session.call_tool(name, arguments)
                text = result.content[0].text  # type: ignore[union-attr]
                answers[name] = {"refused": text} if result.is_error else json.loads(text)
            return {"schemas": schemas, "answers": answers}

    with serving(with_healthz(agent), free_port()) as url:
        seen_by_jane = asyncio.run(front_end(f"{url}/mcp", jane))
        seen_by_bob = asyncio.run(front_end(f"{url}/mcp", bob))

    assert seen_by_jane["schemas"] == {"query_incidents": ["fields", "limit", "query"], "get_incident": ["number"],
                                       "update_incident": ["sys_id", "updates"]}
    for answer in seen_by_jane["answers"].values():
        assert answer["caller"]["user"] == "jane" and answer["caller"]["agent"] == "incident-agent", answer
    bob_reads = seen_by_bob["answers"]["query_incidents"]
    assert bob_reads["caller"]["user"] == "bob" and bob_reads["caller"]["agent"] == "incident-agent"
    assert "refused" in seen_by_bob["answers"]["update_incident"]  # bob (HR) may not write: Deputy said no
