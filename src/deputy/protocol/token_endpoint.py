"""The token endpoint as a pipeline of small steps (RFC 6749 §3.2):

parse → authenticate the client → check it is active → the client's rate limit → dispatch to the
grant → the user's rate limit → record lineage and audit durably → respond. A refusal at any step is audited with everything learnt so far.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from deputy.errors import (
    UnauthorizedClient,
    UnsupportedGrantType,
)
from deputy.protocol.audited import answer_audited, audited_error
from deputy.protocol.client_auth import ClientAuthenticator, default_authenticator
from deputy.protocol.client_auth.base import claimed_client_id
from deputy.protocol.context import ServerContext
from deputy.protocol.grants import GrantRegistry, Issued, Trace, default_grants
from deputy.protocol.rate_limit import TokenRateLimits
from deputy.protocol.request import FormRequest
from deputy.protocol.response import NO_STORE, Response
from deputy.realm import AgentStatus

log = logging.getLogger("deputy.token")

T = TypeVar("T")


class RunBlocking(Protocol):
    """Runs a blocking callable off the event loop (the HTTP layer passes its thread pool)."""

    def __call__(self, fn: Callable[[], T], /) -> Awaitable[T]: ...


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

    async def handle_async(self, request: FormRequest, run_blocking: RunBlocking) -> Response:
        """:meth:`handle` for an event loop: the grant runs through ``run_blocking`` (a thread:
        it may read the store), the durable write is awaited without holding a thread (group
        commit: the write of many requests in one transaction), and the response is built only
        once it has committed. Raises only :class:`OAuthError` (already audited)."""
        trace = Trace()
        issued = await run_blocking(lambda: answer_audited("token", self.ctx, trace, log, lambda: self._issue(request, trace)))
        try:
            await self.ctx.tokens.record_issuance_async(issued.record, issued.event)
        except Exception as exc:  # noqa: BLE001 - audited, then answered as an OAuth error
            error = await run_blocking(lambda: audited_error("token", self.ctx, trace, log, exc))
            raise error from None
        return self._respond(issued)

    def _handle(self, request: FormRequest, trace: Trace) -> Response:
        issued = self._issue(request, trace)
        # Durable before we answer: the lineage record (revocation needs it) and the audit event.
        self.ctx.tokens.record_issuance(issued.record, issued.event)
        return self._respond(issued)

    @staticmethod
    def _respond(issued: Issued) -> Response:
        log.debug("token.issued jti=%s client=%s sub=%s", issued.record.jti, issued.record.client_id,
                  issued.record.subject)
        return Response(200, issued.body, dict(NO_STORE))

    def _issue(self, request: FormRequest, trace: Trace) -> Issued:
        """Everything up to the durable write: the token, its lineage record and audit event."""
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
        return issued
