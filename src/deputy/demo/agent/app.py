"""The agent as one ASGI app: the MCP server at ``/mcp`` and the triage agent at ``/triage``.

Both are protected by :mod:`deputy.resource.asgi`: ``/mcp`` takes tokens for the audience
``incident-agent`` (what a user's sign-in to the agent gives), ``/triage`` tokens for
``triage-agent``; both refuse tokens with no user. Each publishes its RFC 9728 metadata.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import Receive, Scope, Send

from deputy.agent import TokenBroker
from deputy.demo.agent.brokers import incident_broker, triage_broker
from deputy.demo.agent.inbound import ASGIApp, UserTokensOnly
from deputy.demo.agent.settings import AgentSettings
from deputy.demo.agent.tools import create_mcp_server
from deputy.demo.agent.triage import TRIAGE_PATH, create_triage_app
from deputy.resource import TokenVerifier
from deputy.resource.asgi import ProtectedResource

__all__ = ["AgentApp", "create_agent_app"]

MCP_PATH = "/mcp"


@dataclass
class AgentApp:
    """The ASGI app and the brokers whose vaults hold each agent's downstream tokens."""

    app: ASGIApp
    broker: TokenBroker
    triage_broker: TokenBroker
    resource: ProtectedResource


def create_agent_app(settings: AgentSettings) -> AgentApp:
    broker = incident_broker(settings)
    server = create_mcp_server(settings, broker)
    resource = ProtectedResource(
        TokenVerifier(settings.issuer, settings.client_id),
        resource_name="Incident agent (MCP)",
        metadata_url=f"{settings.public_url}/.well-known/oauth-protected-resource{MCP_PATH}",
    )
    # Stateless: every MCP request carries its own token, so no session outlives its user.
    mcp_app = server.streamable_http_app(streamable_http_path=MCP_PATH, stateless_http=True, json_response=True)
    protected = resource.protect(UserTokensOnly(mcp_app))
    triage = triage_broker(settings)
    return AgentApp(_Paths(protected, create_triage_app(settings, triage)), broker, triage, resource)


class _Paths:
    """``/triage`` (and its metadata) to the triage agent; everything else, lifespan included,
    to the MCP app."""

    def __init__(self, main: ASGIApp, triage: ASGIApp) -> None:
        self.main = main
        self.triage = triage
        self.triage_paths = (TRIAGE_PATH, f"/.well-known/oauth-protected-resource{TRIAGE_PATH}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self.triage_paths:
            await self.triage(scope, receive, send)
        else:
            await self.main(scope, receive, send)
