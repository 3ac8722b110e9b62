"""Deputy, the incident desk and the agent, each on its own 127.0.0.1 port, in one process.

``DemoStack.start(home)`` loads the demo realm into an empty SQLite store under ``home``, serves
Deputy, the desk (which verifies tokens with Deputy's keys and introspects them as the
``incident-desk`` client) and the agent (MCP at ``/mcp``, the triage agent at ``/triage``);
``stop()`` stops the three servers and closes the store. Nothing listens anywhere but 127.0.0.1.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from deputy.admin.realm_file import load_realm, read_realm_file
from deputy.config import Settings
from deputy.demo.agent import DESK_RESOURCE, AgentApp, AgentSettings, create_agent_app
from deputy.demo.desk import IncidentDesk, create_desk_app, seed_desk
from deputy.demo.servers import ServerThread, bind_loopback
from deputy.http import create_app
from deputy.resource import Introspection, TokenVerifier
from deputy.resource.asgi import ProtectedResource
from deputy.runtime import Deputy

__all__ = ["DEMO_REALM", "DESK_CLIENT", "PASSWORDS", "REDIRECT_URI", "DemoStack"]

REALM_LOADER = "deputy-demo"  # the admin name on the realm-loading audit events
DEMO_REALM = Path(__file__).resolve().parent / "demo_realm.toml"
DESK_CLIENT = ("incident-desk", "incident-desk-dev-secret")
PASSWORDS = {"jane": "jane-dev-password", "bob": "bob-dev-password", "carol": "carol-dev-password"}
AGENT_CLIENT = ("incident-agent", "incident-agent-dev-secret")
REDIRECT_URI = "http://127.0.0.1:8400/callback"  # registered for incident-agent; never served


@dataclass
class DemoStack:
    deputy: Deputy
    desk: IncidentDesk
    agent: AgentApp
    agent_settings: AgentSettings
    admin_token: str = field(repr=False)
    servers: tuple[ServerThread, ...]

    @property
    def issuer(self) -> str:
        return self.servers[0].url

    @property
    def desk_url(self) -> str:
        return self.servers[1].url

    @property
    def agent_url(self) -> str:
        return self.servers[2].url

    @property
    def mcp_url(self) -> str:
        return self.agent_settings.mcp_url

    @classmethod
    def start(cls, home: Path, *, admin_token: str | None = None) -> DemoStack:
        admin_token = admin_token or "dpa_" + secrets.token_urlsafe(24)
        sockets = [bind_loopback() for _ in range(3)]
        servers = tuple(ServerThread(name, sock) for name, sock in zip(("deputy", "desk", "agent"), sockets))
        deputy_server, desk_server, agent_server = servers
        deputy = Deputy.open(Settings(issuer=deputy_server.url, home=home, admin_token=admin_token))
        try:
            load_realm(deputy.admin(REALM_LOADER), read_realm_file(DEMO_REALM))
            deputy_server.start(create_app(deputy, admin_token))
            desk = seed_desk()
            verifier = TokenVerifier(deputy_server.url, DESK_RESOURCE, introspection=Introspection(*DESK_CLIENT))
            resource = ProtectedResource(verifier, scopes_supported=["incidents:read", "incidents:write", "hr:read"],
                                         resource_name="Incident desk")
            desk_server.start(create_desk_app(desk, resource, introspect=True))  # revocation bites at once
            settings = AgentSettings(issuer=deputy_server.url, desk_url=desk_server.url, public_url=agent_server.url)
            agent = create_agent_app(settings)
            agent_server.start(agent.app)
        except BaseException:
            for server in reversed(servers):
                server.stop()
            deputy.close()
            raise
        return cls(deputy, desk, agent, settings, admin_token, servers)

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()
        self.deputy.close()
