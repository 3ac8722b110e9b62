"""Token introspection (RFC 7662). An inactive, unknown or foreign token is just {"active": false}."""

from __future__ import annotations

import logging
from typing import Any

from deputy.constants import TOKEN_TYPE_BEARER
from deputy.errors import UnauthorizedClient
from deputy.jose import JWTInvalid
from deputy.protocol.client_auth import ClientAuthenticator, default_authenticator
from deputy.protocol.context import ServerContext
from deputy.protocol.request import FormRequest
from deputy.protocol.response import NO_STORE, Response
from deputy.protocol.tokens import TokenInactive, read_own_token
from deputy.realm import AgentStatus

log = logging.getLogger("deputy.introspection")

_REPORTED_CLAIMS = ("scope", "client_id", "exp", "iat", "nbf", "sub", "aud", "iss", "jti", "act", "may_act", "cnf")


def introspect(token: str, ctx: ServerContext) -> dict[str, Any]:
    try:
        own = read_own_token(token, ctx)
    except (JWTInvalid, TokenInactive) as exc:
        log.info("introspection: inactive (%s)", exc)
        return {"active": False}
    body: dict[str, Any] = {"active": True, "token_type": TOKEN_TYPE_BEARER}
    for name in _REPORTED_CLAIMS:
        if name in own.claims:
            body[name] = own.claims[name]
    if own.record.mode != "client":
        body["username"] = own.record.subject
    body["deputy_mode"] = own.record.mode
    return body


class IntrospectionEndpoint:
    def __init__(self, ctx: ServerContext, authenticator: ClientAuthenticator | None = None) -> None:
        self.ctx = ctx
        self.authenticator = authenticator or default_authenticator()

    def handle(self, request: FormRequest) -> Response:
        # RFC 7662 §2.1: the caller must be authorised; every Deputy client authenticates.
        client = self.authenticator.authenticate(request, self.ctx, f"{self.ctx.issuer}/introspect")
        if client.agent.status is not AgentStatus.ACTIVE:
            raise UnauthorizedClient("client_not_active", f"{client.client_id} is {client.agent.status.value}")
        token = request.required("token")
        request.one("token_type_hint")  # optional; duplicates are still refused
        return Response(200, introspect(token, self.ctx), dict(NO_STORE))
