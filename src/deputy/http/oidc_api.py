"""JSON endpoints of sign-in: UserInfo (OIDC Core §5.3) and dynamic client registration
(RFC 7591, only when ``dynamic_registration`` is on)."""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from deputy.audit import AuditEvent
from deputy.errors import InvalidClientMetadata
from deputy.protocol.registration import parse_registration
from deputy.protocol.request import MAX_BODY_BYTES
from deputy.protocol.userinfo import bearer_token, userinfo
from deputy.realm import AgentStatus
from deputy.runtime import Deputy

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def oidc_routes(deputy: Deputy) -> list[BaseRoute]:
    settings = deputy.settings

    async def userinfo_endpoint(request: Request) -> Response:
        token = bearer_token(request.headers.get("authorization"))
        claims = await run_in_threadpool(userinfo, token, deputy.context)
        return JSONResponse(claims, headers=NO_STORE)

    def _register(body: Any) -> Response:
        registration = parse_registration(body, status=AgentStatus(settings.registration_status))
        admin = deputy.admin("registration")
        issued = admin.create_agent(registration.agent, with_secret=registration.confidential)
        agent = registration.agent
        deputy.store.audit.append(
            AuditEvent(
                type="client.registered", client_id=agent.client_id,
                data={**registration.metadata, "status": agent.status.value},
            )
        )
        now = deputy.store.clock.now()
        response: dict[str, Any] = {"client_id": agent.client_id, "client_id_issued_at": now, **registration.metadata}
        if issued is not None:
            response["client_secret"] = issued.secret.reveal()
            response["client_secret_expires_at"] = 0  # RFC 7591 §3.2.1: does not expire
        return JSONResponse(response, status_code=201, headers=NO_STORE)

    async def register(request: Request) -> Response:
        media_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        raw = await request.body()
        if media_type != "application/json" or len(raw) > MAX_BODY_BYTES:
            raise InvalidClientMetadata(
                "client_metadata_invalid", f"content type {media_type!r}, {len(raw)} bytes",
                public="The request must be a JSON object (application/json).",
            )
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InvalidClientMetadata(
                "client_metadata_invalid", "undecodable JSON", public="The request must be a JSON object."
            ) from None
        response: Response = await run_in_threadpool(_register, body)
        return response

    routes: list[BaseRoute] = [Route("/userinfo", userinfo_endpoint, methods=["GET", "POST"])]
    if settings.dynamic_registration:
        routes.append(Route("/register", register, methods=["POST"]))
    return routes


__all__ = ["oidc_routes"]
