"""The demo's incident agent: an MCP server whose tools call the incident desk as the user.

It accepts only a user's token (verified by :mod:`deputy.resource.asgi`, audience
``incident-agent``); each tool gets a token for the desk by RFC 8693 token exchange at Deputy
through the agent SDK (:mod:`deputy.agent`), so the desk applies the user's own permissions and
logs "user via agent". A second agent, triage-agent, is served beside it to show a nested ``act``.
The brain that turns a question into tool calls is pluggable (:mod:`deputy.demo.agent.brain`).
It speaks to Deputy over HTTP only: it never imports the server's packages.
"""

from __future__ import annotations

from deputy.demo.agent.app import AgentApp, create_agent_app
from deputy.demo.agent.settings import DESK_RESOURCE, AgentSettings

__all__ = ["DESK_RESOURCE", "AgentApp", "AgentSettings", "create_agent_app"]
