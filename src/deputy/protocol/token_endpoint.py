"""The token endpoint as a pipeline of small steps (RFC 6749 §3.2):

parse → authenticate the client → check it is active → the client's rate limit → dispatch to the
grant → the user's rate limit → record lineage and audit durably → respond. A refusal at any step is audited with everything learnt so far.
"""

from __future__ import annotations

import logging

from deputy.errors import (
    UnauthorizedClient,
    UnsupportedGrantType,
)
from deputy.protocol.audited import answer_audited
from deputy.protocol.client_auth import ClientAuthenticator, default_authenticator
from deputy.protocol.client_auth.base import claimed_client_id
from deputy.protocol.context import ServerContext
from deputy.protocol.grants import GrantRegistry, Trace, default_grants
from deputy.protocol.rate_limit import TokenRateLimits
from deputy.protocol.request import FormRequest
from deputy.protocol.response import NO_STORE, Response
from deputy.realm import AgentStatus

log = logging.getLogger("deputy.token")


class TokenEndpoint:
    def __init__(
        self,
        ctx: ServerContext,
        grants: GrantRegistry | None = None,
        authenticator: ClientAuthenticator | None = None,
        limits: TokenRateLimits | None = None,
    ) -> None:
        self.ctx = ctx
        self.grants = grants or default_grants()
        self.authenticator = authenticator or default_authenticator()
        self.limits = limits or TokenRateLimits()

    def handle(self, request: FormRequest) -> Response:
        """Answer a token request. Raises only :class:`OAuthError` (already audited)."""
        trace = Trace()
        return answer_audited("token", self.ctx, trace, log, lambda: self._handle(request, trace))

    def _handle(self, request: FormRequest, trace: Trace) -> Response:
        trace.client_id = claimed_client_id(request)
        grant_type = request.required("grant_type")
        trace.grant_type = grant_type
        client = self.authenticator.authenticate(request, self.ctx, self.ctx.settings.token_endpoint)
        trace.client_id = client.client_id
        trace.data["client_auth"] = client.method
        if client.agent.status is not AgentStatus.ACTIVE:
            raise UnauthorizedClient("client_not_active", f"{client.client_id} is {client.agent.status.value}")
        grant = self.grants.get(grant_type)
        if grant is None:
            raise UnsupportedGrantType("unsupported_grant_type", f"grant_type {grant_type!r}")
        self.limits.check_client(client.client_id)
        issued = grant.issue(request, client, self.ctx, trace)
        # Per user: the grant has identified the user; the token it signed is dropped unrecorded.
        self.limits.check_user(grant.grant_type, issued.record.subject, issued.record.mode)
        # Durable before we answer: the lineage record (revocation needs it) and the audit event.
        self.ctx.tokens.record_issuance(issued.record, issued.event)
        log.debug("token.issued jti=%s client=%s sub=%s", issued.record.jti, client.client_id, issued.record.subject)
        return Response(200, issued.body, dict(NO_STORE))
