"""The incident agent's MCP server: the seed's three tools, and a fourth through the triage agent.

Every tool acts for the user whose token came in (:func:`~deputy.demo.agent.inbound.acting_for`)
and reaches the desk with a token Deputy exchanged for that user; the user's own token never
leaves the agent except as the subject of that exchange.
"""

from __future__ import annotations

from typing import Any

import httpx
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from deputy.agent import AgentError, DownstreamAuth, TokenBroker
from deputy.demo.agent.brokers import DESK, TRIAGE, WRITE_SCOPES
from deputy.demo.agent.desk_client import DEFAULT_FIELDS, DeskClient, DeskError, refusal_text
from deputy.demo.agent.inbound import acting_for
from deputy.demo.agent.settings import AgentSettings

__all__ = ["create_mcp_server"]

MAX_LIMIT = 50


def _state(ctx: Context) -> Any:
    request = ctx.request_context.request
    return getattr(request, "scope", {}).get("state")


def create_mcp_server(settings: AgentSettings, broker: TokenBroker) -> MCPServer:
    """The MCP server with its tools; serve it with :func:`deputy.demo.agent.create_agent_app`."""
    desk = DeskClient(settings.desk_url, DownstreamAuth(broker, DESK), DownstreamAuth(broker, DESK, WRITE_SCOPES))
    server = MCPServer(
        "incident-agent",
        instructions="Query and update incidents at the incident desk, as the signed-in user.",
        log_level="WARNING",
    )

    @server.tool()
    async def query_incidents(ctx: Context, query: str = "", limit: int = 10,
                              fields: str = DEFAULT_FIELDS) -> dict[str, Any]:
        """Search for incidents with a ServiceNow encoded query (e.g. "assigned_to=me^ORDERBYDESCopened_at")."""
        with acting_for(_state(ctx)):
            return {"result": await _desk(desk.query(query, max(1, min(limit, MAX_LIMIT)), fields))}

    @server.tool()
    async def get_incident(ctx: Context, number: str) -> dict[str, Any]:
        """Get one incident by its number (e.g. INC0012345)."""
        with acting_for(_state(ctx)):
            record = await _desk(desk.get_by_number(number.strip().upper()))
        if record is None:
            raise ToolError(f"No incident {number} that you may see.")
        return {"result": record}

    @server.tool()
    async def update_incident(ctx: Context, sys_id: str, updates: dict[str, str]) -> dict[str, Any]:
        """Update an incident (by sys_id) with field values, e.g. {"state": "In Progress"}."""
        with acting_for(_state(ctx)):
            return {"result": await _desk(desk.update(sys_id, updates))}

    @server.tool()
    async def triage_incidents(ctx: Context, query: str = "assigned_to=me", limit: int = 5) -> dict[str, Any]:
        """Ask the triage agent to rank incidents, most urgent first (it reads them as the user)."""
        with acting_for(_state(ctx)):
            return await _triage(settings, broker, query, max(1, min(limit, MAX_LIMIT)))

    return server


async def _desk(call: Any) -> Any:
    try:
        return await call
    except DeskError as exc:
        raise ToolError(str(exc)) from None


async def _triage(settings: AgentSettings, broker: TokenBroker, query: str, limit: int) -> dict[str, Any]:
    auth = DownstreamAuth(broker, TRIAGE)
    async with httpx.AsyncClient(auth=auth, timeout=10, follow_redirects=False) as client:
        try:
            response = await client.post(settings.triage_url, json={"query": query, "limit": limit})
        except AgentError as exc:
            raise ToolError(refusal_text(exc)) from None
        except httpx.HTTPError:
            raise ToolError("The triage agent could not be reached.") from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not isinstance(body, dict):
        said = body.get("error_description") if isinstance(body, dict) else None
        raise ToolError(f"The triage agent refused ({response.status_code}): {said or 'no reason given'}")
    return body
