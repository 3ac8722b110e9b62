"""The incident desk's Table API as seen by an agent: three calls, each with a delegated token.

The ``httpx.Auth`` given (the agent SDK's :class:`~deputy.agent.DownstreamAuth`) attaches a token
exchanged for the current user; this module never sees the user's own token. Failures become
:class:`DeskError` with a message fit to show the user: the desk's refusal, or Deputy's when the
exchange itself was refused.
"""

from __future__ import annotations

from typing import Any

import httpx

from deputy.agent import AgentError, TokenRequestFailed

__all__ = ["DEFAULT_FIELDS", "DeskClient", "DeskError"]

TABLE = "/api/now/table/incident"
DEFAULT_FIELDS = "sys_id,number,short_description,priority,state,category,assigned_to,opened_at"


class DeskError(Exception):
    """A desk call that did not succeed; ``str()`` is safe to show (no token, no secret)."""


def refusal_text(exc: AgentError) -> str:
    """Deputy's answer to a refused exchange, as the user should read it."""
    if isinstance(exc, TokenRequestFailed):
        if exc.status is None:
            return "Deputy could not be reached for a token."
        said = f"{exc.error}: {exc.description}" if exc.description else str(exc.error)
        return f"Deputy refused the token exchange ({exc.status} {said})"
    return f"No token for the desk: {type(exc).__name__}"


class DeskClient:
    """Calls the desk at ``base_url``; ``read`` and ``write`` authenticate reads and updates."""

    def __init__(self, base_url: str, read: httpx.Auth, write: httpx.Auth,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url
        self.read = read
        self.write = write
        self.transport = transport

    async def query(self, query: str, limit: int, fields: str = DEFAULT_FIELDS) -> list[dict[str, Any]]:
        params = {"sysparm_query": query, "sysparm_limit": str(limit), "sysparm_fields": fields}
        result = await self._send("GET", TABLE, self.read, params=params)
        return list(result) if isinstance(result, list) else []

    async def get_by_number(self, number: str, fields: str = DEFAULT_FIELDS) -> dict[str, Any] | None:
        records = await self.query(f"number={number}", 1, fields)
        return records[0] if records else None

    async def update(self, sys_id: str, updates: dict[str, Any]) -> dict[str, Any]:
        result = await self._send("PATCH", f"{TABLE}/{sys_id}", self.write, json=updates)
        return dict(result) if isinstance(result, dict) else {}

    async def _send(self, method: str, path: str, auth: httpx.Auth, **kwargs: Any) -> Any:
        async with httpx.AsyncClient(base_url=self.base_url, auth=auth, transport=self.transport,
                                     timeout=10, follow_redirects=False) as client:
            try:
                response = await client.request(method, path, **kwargs)
            except AgentError as exc:
                raise DeskError(refusal_text(exc)) from None
            except httpx.HTTPError:
                raise DeskError("The incident desk could not be reached.") from None
        if response.status_code >= 400:
            raise DeskError(_desk_refusal(response))
        try:
            body = response.json()
        except ValueError:
            raise DeskError("The incident desk sent an answer that is not JSON.") from None
        return body.get("result") if isinstance(body, dict) else None


def _desk_refusal(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):  # ServiceNow's shape: {"error": {"message": ..., "detail": ...}}
        text = str(error.get("message") or "")
    else:
        text = str(body.get("error_description") or error or "") if isinstance(body, dict) else ""
    return f"The incident desk refused the request ({response.status_code}{': ' + text if text else ''})."
