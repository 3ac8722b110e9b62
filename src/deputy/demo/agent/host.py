"""The user's side: an MCP client session to the agent, carrying the user's token, driven by a brain.

This is what a chat app (an MCP host) does when Jane types a question: connect to the agent's MCP
endpoint with her access token, list the tools, let the brain pick calls, run them, answer.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import httpx2
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from deputy.demo.agent.brain import Answer, Brain, ToolCall, ToolSpec

__all__ = ["AgentRefused", "ask"]


class AgentRefused(Exception):
    """The agent refused the user's token (401/403); ``str()`` is the agent's public answer."""

    def __init__(self, status: int, error: str, description: str) -> None:
        self.status = status
        self.error = error
        self.description = description
        super().__init__(f"{status} {error}: {description}" if description else f"{status} {error}")


async def ask(mcp_url: str, access_token: str, question: str, brain: Brain, *, timeout: float = 30.0) -> Answer:
    """Ask the agent at ``mcp_url`` a question as the holder of ``access_token``."""
    headers = {"Authorization": f"Bearer {access_token}"}
    await _check_admitted(mcp_url, headers, timeout)
    try:
        return await _session(mcp_url, headers, question, brain, timeout)
    except BaseExceptionGroup as group:  # the MCP client's task groups wrap what the brain raised
        raise _first(group) from None


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    leaf = group.exceptions[0]
    return _first(leaf) if isinstance(leaf, BaseExceptionGroup) else leaf


async def _session(mcp_url: str, headers: dict[str, str], question: str, brain: Brain, timeout: float) -> Answer:
    async with (
        httpx2.AsyncClient(headers=headers, timeout=timeout) as http,
        streamable_http_client(mcp_url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        listed = await session.list_tools()
        tools = [ToolSpec(t.name, t.description or "", dict(t.input_schema)) for t in listed.tools]

        async def call(name: str, arguments: dict[str, Any]) -> ToolCall:
            result = await session.call_tool(name, arguments)
            text = " ".join(getattr(c, "text", "") for c in result.content).strip()
            if result.is_error:  # the MCP SDK prefixes "Error executing tool <name>: "
                said = text.removeprefix(f"Error executing tool {name}: ")
                return ToolCall(name, arguments, error=said or "the tool failed")
            body: Any = result.structured_content
            if body is None and text:
                try:
                    body = json.loads(text)
                except ValueError:
                    body = text
            return ToolCall(name, arguments, result=body)

        return await brain.answer(question, tools, call)


async def _check_admitted(mcp_url: str, headers: dict[str, str], timeout: float) -> None:
    """One plain request first, so that a refused token is reported with the agent's own words
    (the MCP transport would only say that the connection failed)."""
    ping = {"jsonrpc": "2.0", "id": 0, "method": "ping"}
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        response = await client.post(mcp_url, json=ping, headers={
            **headers, "Accept": "application/json, text/event-stream", "Content-Type": "application/json",
        })
    if response.status_code in (401, 403):
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        raise AgentRefused(response.status_code, str(body.get("error") or "unauthorized"),
                           str(body.get("error_description") or ""))
