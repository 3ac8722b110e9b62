"""The triage agent: a second agent in the chain, served beside the incident agent.

incident-agent hands it Jane's authority (a token for the audience ``triage-agent``, ``act`` =
incident-agent); it verifies that token, exchanges it again with its own credentials for the desk
(``act`` = triage-agent, nested over incident-agent), reads the incidents and ranks them. The desk
therefore sees "jane via triage-agent <- incident-agent".
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from deputy.agent import DownstreamAuth, TokenBroker
from deputy.demo.agent.brokers import DESK, triage_broker
from deputy.demo.agent.desk_client import DeskClient, DeskError
from deputy.demo.agent.inbound import ASGIApp, UserTokensOnly, acting_for
from deputy.demo.agent.settings import AgentSettings
from deputy.resource import TokenVerifier
from deputy.resource.asgi import ProtectedResource

__all__ = ["TRIAGE_PATH", "create_triage_app", "rank"]

TRIAGE_PATH = "/triage"


def rank(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Most urgent first: lowest priority number, then the oldest opened."""
    def key(record: dict[str, Any]) -> tuple[int, str]:
        priority = str(record.get("priority") or "9").strip()[:1]
        return (int(priority) if priority.isdigit() else 9, str(record.get("opened_at") or ""))

    return sorted(records, key=key)


def create_triage_app(settings: AgentSettings, broker: TokenBroker | None = None) -> ASGIApp:
    """The triage agent's API (``POST /triage`` with ``{"query": ..., "limit": ...}``), protected:
    tokens must be for the audience ``triage-agent`` and speak for a user. ``broker`` holds its
    own credentials (default: :func:`~deputy.demo.agent.brokers.triage_broker`)."""
    resource = ProtectedResource(
        TokenVerifier(settings.issuer, settings.triage_client_id), scopes_supported=["incidents:read"], resource_name="Triage agent",
        metadata_url=f"{settings.public_url}/.well-known/oauth-protected-resource{TRIAGE_PATH}",
    )
    broker = broker or triage_broker(settings)
    desk = DeskClient(settings.desk_url, DownstreamAuth(broker, DESK), DownstreamAuth(broker, DESK))

    async def triage(request: Request) -> JSONResponse:
        try:
            body = await request.json()
            query = str(body.get("query") or "assigned_to=me")
            limit = max(1, min(int(body.get("limit") or 5), 50))
        except (ValueError, TypeError, AttributeError):
            return JSONResponse({"error": "invalid_request", "error_description": "Send a JSON object."}, 400)
        with acting_for(request.scope.get("state")):
            try:
                records = await desk.query(query, limit)
            except DeskError as exc:
                return JSONResponse({"error": "desk_refused", "error_description": str(exc)}, 502)
        return JSONResponse({"result": rank(records), "triaged_by": settings.triage_client_id})

    app = Starlette(routes=[Route(TRIAGE_PATH, triage, methods=["POST"])])
    return resource.protect(UserTokensOnly(app), "incidents:read")
