"""Human approval: the backchannel authentication endpoint of OpenID CIBA Core 1.0, poll mode,
and the user's decision (docs/approvals.md).

An agent asks (§7.1): client authentication as at the token endpoint, ``login_hint`` naming the
user (the only hint supported: the approval itself is the user's authority, so no subject token is
needed), ``scope``, one ``resource`` or ``audience`` (RFC 8707), an optional ``binding_message``
and ``requested_expiry``. The delegation decision runs first, exactly as for an exchange but with
the approval-required scopes allowed: the user is only ever asked to approve what policy would
let this agent have for them. The answer (§7.3) is ``auth_req_id``, ``expires_in`` and
``interval``; the agent then polls the token endpoint with the ciba grant
(:mod:`deputy.protocol.grants.ciba`).

The user approves or denies in the console or from the CLI (:class:`Approvals`). An approval is
also a consent (a delegation grant) for the agent at the resource, lasting as long as the token
it allows: the user sees it under "My agents", and withdrawing it revokes that token and every
token derived from it.
"""

from __future__ import annotations

import logging
import secrets
import unicodedata
from dataclasses import dataclass

from deputy.audit import AuditEvent
from deputy.constants import GRANT_CIBA
from deputy.errors import (
    AccessDenied,
    InvalidBindingMessage,
    InvalidRequest,
    InvalidScope,
    NotFound,
    UnauthorizedClient,
    UnknownUserId,
)
from deputy.policy import DelegationRequest, decide
from deputy.protocol.audited import answer_audited
from deputy.protocol.backchannel_ports import (
    BackchannelLedger,
    BackchannelRequest,
    BackchannelStatus,
)
from deputy.protocol.client_auth import ClientAuthenticator, default_authenticator
from deputy.protocol.client_auth.base import claimed_client_id
from deputy.protocol.context import ServerContext
from deputy.protocol.grants.base import Trace, refusal
from deputy.protocol.grants.targets import requested_targets, resolve_target
from deputy.protocol.request import FormRequest
from deputy.protocol.response import NO_STORE, Response
from deputy.protocol.sign_in_ports import Consent, opaque_hash
from deputy.realm import AgentStatus
from deputy.secret import new_token_id

log = logging.getLogger("deputy.backchannel")

PATH = "/bc-authorize"
MAX_BINDING_MESSAGE = 128
# OpenID scopes a CIBA client must send (§7.1) say nothing about the resource: accepted, ignored
# (no ID token is issued; the result is an access token for the resource).
OPENID_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})


def binding_message_problem(message: str) -> str | None:
    """§7.1: the message is shown to the user on another device, so it must be short and plain:
    at most 128 characters, no control, format or unassigned characters, no line breaks."""
    if len(message) > MAX_BINDING_MESSAGE:
        return f"{len(message)} characters"
    for char in message:
        category = unicodedata.category(char)
        if category[0] == "C" or category in ("Zl", "Zp"):
            return f"character U+{ord(char):04X} ({category})"
    return None


def requested_expiry(raw: str | None, default: int, maximum: int) -> int:
    """§7.1: a positive integer of seconds; capped at the server's maximum (§7.3 says so)."""
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) <= 0:
        raise InvalidRequest("requested_expiry_invalid", f"requested_expiry={raw[:20]!r}")
    return min(int(raw), maximum)


class BackchannelEndpoint:
    """``POST /bc-authorize``. Raises only :class:`OAuthError` (already audited)."""

    def __init__(self, ctx: ServerContext, ledger: BackchannelLedger, authenticator: ClientAuthenticator | None = None) -> None:
        self.ctx = ctx
        self.ledger = ledger
        self.authenticator = authenticator or default_authenticator()

    @property
    def url(self) -> str:
        return f"{self.ctx.issuer}{PATH}"

    def handle(self, request: FormRequest) -> Response:
        trace = Trace(grant_type=GRANT_CIBA)
        return answer_audited("backchannel", self.ctx, trace, log, lambda: self._handle(request, trace))

    def _handle(self, request: FormRequest, trace: Trace) -> Response:
        ctx = self.ctx
        settings = ctx.settings
        trace.client_id = claimed_client_id(request)
        client = self.authenticator.authenticate(request, ctx, self.url)
        trace.client_id = client.client_id
        trace.data["client_auth"] = client.method
        agent = client.agent
        if agent.status is not AgentStatus.ACTIVE:
            raise UnauthorizedClient("client_not_active", f"{client.client_id} is {agent.status.value}")
        if agent.public_client:
            raise UnauthorizedClient("grant_not_allowed", f"{client.client_id} is a public client")

        hints = [name for name in ("login_hint", "id_token_hint", "login_hint_token") if request.one(name) is not None]
        if len(hints) != 1:
            raise InvalidRequest("hint_missing", f"hints given: {hints}")
        if hints[0] != "login_hint":
            raise InvalidRequest("hint_unsupported", f"{hints[0]} is not supported")
        if request.one("user_code") is not None:
            raise InvalidRequest("user_code_unsupported", "user_code sent")
        raw_scopes = request.scopes()
        if raw_scopes is None:
            raise InvalidRequest("missing_parameter", "scope is required (CIBA Core 7.1)")
        scopes = raw_scopes - OPENID_SCOPES
        trace.scope_requested = tuple(sorted(scopes))
        if not scopes:
            # Asking the user to approve "everything the agent may get" is never what they should see.
            raise InvalidScope("scope_empty", "no resource scope requested")
        message = request.one("binding_message")
        if message is not None:
            problem = binding_message_problem(message)
            if problem is not None:
                raise InvalidBindingMessage("binding_message_invalid", problem)
        expiry = requested_expiry(request.one("requested_expiry"), settings.ciba_default_expiry, settings.ciba_max_expiry)
        targets = requested_targets(request)
        trace.audience = targets

        username = request.required("login_hint")
        trace.subject = username[:200]
        user = ctx.realm.get_user(username) if len(username) <= 200 else None
        if user is None or user.disabled:
            raise UnknownUserId("unknown_user", f"login_hint {username[:200]!r}: {'disabled' if user else 'no such user'}")
        resource = resolve_target(targets, ctx)
        trace.audience = (resource.identifier,)
        trace.actor_chain = (agent.client_id,)
        trace.mode = "delegation"
        decision = decide(
            DelegationRequest(
                agent=agent, user=user, resource=resource,
                user_entitlements=ctx.realm.user_entitlements(user.username, resource.identifier),
                requested_scopes=scopes, subject_scopes=None, chain_depth=1,
                max_chain_depth=settings.max_chain_depth, may_act=None, issuer=ctx.issuer, user_approved=True,
            )
        )
        if not decision.allowed:
            reason = decision.reasons[0]
            if reason == "subject_not_delegated":
                # CIBA Core §13: access_denied (403) when the request may not be made for this user.
                raise AccessDenied(reason, decision.explanation)
            raise refusal(reason, decision.explanation)

        now = ctx.clock.now()
        auth_req_id = secrets.token_urlsafe(32)  # §7.3: at least 128 bits of entropy; we use 256
        stored = BackchannelRequest(
            request_id=new_token_id(), auth_req_hash=opaque_hash(auth_req_id), client_id=agent.client_id,
            username=user.username, resource=resource.identifier, scopes=tuple(sorted(decision.scopes)),
            binding_message=message, status=BackchannelStatus.PENDING, created_at=now, expires_at=now + expiry,
            interval=settings.ciba_interval, last_polled_at=now,
        )
        event = AuditEvent(
            type="backchannel.requested", client_id=agent.client_id, subject=user.username,
            actor_chain=(agent.client_id,), audience=(resource.identifier,), grant_type=GRANT_CIBA,
            scope_requested=trace.scope_requested, scope_granted=stored.scopes, mode="delegation",
            data={
                "request_id": stored.request_id, "binding_message": message, "expires_at": stored.expires_at,
                "client_auth": client.method,
                "approval_scopes": sorted(decision.scopes & frozenset(resource.approval_scopes)),
            },
        )
        self.ledger.create_request(stored, event)
        log.info("backchannel.requested request_id=%s client=%s user=%s", stored.request_id, agent.client_id, user.username)
        body = {"auth_req_id": auth_req_id, "expires_in": expiry, "interval": stored.interval}
        return Response(200, body, dict(NO_STORE))


@dataclass(frozen=True)
class Decided:
    request: BackchannelRequest
    approved: bool


class Approvals:
    """The user's side: their pending requests, and the decision (console and CLI)."""

    def __init__(self, ctx: ServerContext, ledger: BackchannelLedger) -> None:
        self.ctx = ctx
        self.ledger = ledger

    def pending(self, username: str | None = None) -> list[BackchannelRequest]:
        return self.ledger.list_requests(username, pending_at=self.ctx.clock.now())

    def decide(self, request_id: str, username: str, approve: bool, *, via: str) -> Decided:
        """Approve or deny ``username``'s pending request. ``via`` says where (``console``,
        ``cli``) for the audit trail. Another user's request, or one no longer pending, is
        :class:`NotFound` (the same answer, so that request ids cannot be probed)."""
        now = self.ctx.clock.now()
        request = self.ledger.get_request(request_id)
        if request is None or request.username != username:
            raise NotFound("not_found", f"no request {request_id!r} for {username}", public="No such pending request.")
        consent = None
        if approve:
            resource = self.ctx.realm.get_resource(request.resource)
            token_ttl = resource.token_ttl if resource is not None else 0
            # The consent covers the one token the approval allows, for as long as it can live.
            consent = Consent(
                consent_id=new_token_id(), username=username, client_id=request.client_id, resource=request.resource,
                scopes=request.scopes, created_at=now, expires_at=request.expires_at + token_ttl,
            )
        event = AuditEvent(
            type="backchannel.approved" if approve else "backchannel.denied",
            client_id=request.client_id, subject=username, actor_chain=(request.client_id,),
            audience=(request.resource,), grant_type=GRANT_CIBA, scope_granted=request.scopes if approve else None,
            mode="delegation",
            data={
                "request_id": request.request_id, "via": via, "binding_message": request.binding_message,
                **({"consent_id": consent.consent_id} if consent is not None else {}),
            },
        )
        decided = self.ledger.decide(request_id, approve, username, now, consent, event)
        if decided is None:
            raise NotFound("not_found", f"request {request_id} is {request.status.value}", public="No such pending request.")
        log.info("backchannel.%s request_id=%s user=%s via=%s", "approved" if approve else "denied", request_id, username, via)
        return Decided(decided, approve)
