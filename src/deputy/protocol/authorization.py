"""The authorization endpoint's decisions (RFC 6749 §4.1), without the web pages.

Given a validated request and who is signed in, :meth:`AuthorizationEndpoint.decide` answers
one of: sign in first (:class:`NeedsSignIn`), ask the user (:class:`ConsentScreen`), or send the
browser back with a code (:class:`Redirect`). The consent page's answer comes back through
:meth:`~AuthorizationEndpoint.approve` or :meth:`~AuthorizationEndpoint.deny`.

Consent is a delegation grant kept in the consent ledger: approving records it (or widens the
user's existing one for this client and resource); a later request for the same or less skips
the page. Every code and every token issued under it carries its id, so withdrawing it revokes
them all.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

from deputy.audit import AuditEvent
from deputy.errors import AccessDenied, ConsentRequired, LoginRequired
from deputy.policy.delegation import Decision
from deputy.policy.sign_in import decide_sign_in
from deputy.protocol.authorization_request import (
    AuthorizationRequest,
    RedirectError,
    parse_authorization_request,
    redirect_location,
    with_query,
)
from deputy.protocol.context import ServerContext
from deputy.protocol.grants.base import refusal
from deputy.protocol.sign_in_ports import (
    AuthorizationCode,
    CodeLedger,
    Consent,
    ConsentLedger,
    opaque_hash,
)
from deputy.realm import Resource, User
from deputy.secret import new_token_id


@dataclass(frozen=True)
class SignedInUser:
    """Who the browser's session says is signed in, and when they last proved it."""

    username: str
    auth_time: int


@dataclass(frozen=True)
class NeedsSignIn:
    request: AuthorizationRequest


@dataclass(frozen=True)
class ConsentScreen:
    """What the consent page shows, in the words it will use."""

    request: AuthorizationRequest
    user: User
    scopes: tuple[str, ...]  # what approving grants
    resource: Resource | None
    # Without a resource, the client receives a token for itself; these are the places where, as
    # an agent, it may then act for the user (resource name or identifier, scopes), for the page.
    reachable: tuple[tuple[str, tuple[str, ...]], ...]
    token_ttl: int
    consent_ttl: int


@dataclass(frozen=True)
class Redirect:
    location: str


Outcome = NeedsSignIn | ConsentScreen | Redirect


class AuthorizationEndpoint:
    def __init__(self, ctx: ServerContext, consents: ConsentLedger, codes: CodeLedger) -> None:
        self.ctx = ctx
        self.consents = consents
        self.codes = codes

    def parse(self, pairs: list[tuple[str, str]]) -> AuthorizationRequest:
        return parse_authorization_request(pairs, self.ctx)

    # -- the decision ----------------------------------------------------------------------------
    def decide(self, request: AuthorizationRequest, who: SignedInUser | None, *, just_signed_in: bool = False) -> Outcome:
        now = self.ctx.clock.now()
        too_old = who is not None and request.max_age is not None and now - who.auth_time > request.max_age
        wants_login = "login" in request.prompt and not just_signed_in
        if who is None or too_old or wants_login:
            if "none" in request.prompt:
                raise request.fail(LoginRequired("login_required", "prompt=none without a usable session"))
            return NeedsSignIn(request)
        user, decision = self._decision(request, who)
        consent = self.consents.find_consent(user.username, request.client.client_id, _rid(request.resource))
        if consent is not None and consent.covers(decision.scopes, now) and "consent" not in request.prompt:
            return Redirect(self._issue_code(request, who, decision, consent))
        if "none" in request.prompt:
            raise request.fail(ConsentRequired("consent_required", "prompt=none and no covering consent"))
        return ConsentScreen(
            request=request, user=user, scopes=tuple(sorted(decision.scopes)), resource=request.resource,
            reachable=self._reachable(request, user), token_ttl=decision.ttl,
            consent_ttl=self.ctx.settings.consent_ttl,
        )

    def approve(self, request: AuthorizationRequest, who: SignedInUser) -> Redirect:
        """The user said yes on the consent page: record the grant, send a code."""
        user, decision = self._decision(request, who)
        now = self.ctx.clock.now()
        client_id = request.client.client_id
        resource = _rid(request.resource)
        existing = self.consents.find_consent(user.username, client_id, resource)
        expires_at = now + self.ctx.settings.consent_ttl
        if existing is not None and existing.withdrawn_at is None:
            scopes = tuple(sorted(set(existing.scopes) | decision.scopes))
            consent = replace(existing, scopes=scopes, expires_at=expires_at)
            verb = "updated"
        else:
            consent = Consent(new_token_id(), user.username, client_id, resource, tuple(sorted(decision.scopes)), now, expires_at)
            verb = "granted"
        event = AuditEvent(
            type=f"consent.{verb}", client_id=client_id, subject=user.username,
            audience=(resource,) if resource else (), scope_granted=consent.scopes,
            data={"consent_id": consent.consent_id, "expires_at": expires_at},
        )
        self.consents.save_consent(consent, event)
        return Redirect(self._issue_code(request, who, decision, consent))

    def deny(self, request: AuthorizationRequest, who: SignedInUser) -> Redirect:
        resource = _rid(request.resource)
        self.ctx.audit.append(
            AuditEvent(
                type="consent.denied", outcome="failure", client_id=request.client.client_id, subject=who.username,
                audience=(resource,) if resource else (), reason="user_denied",
            )
        )
        error = request.fail(AccessDenied("user_denied", f"{who.username} denied {request.client.client_id}"))
        return Redirect(redirect_location(error, self.ctx.issuer))

    # -- helpers ---------------------------------------------------------------------------------
    def _decision(self, request: AuthorizationRequest, who: SignedInUser) -> tuple[User, Decision]:
        user = self.ctx.realm.get_user(who.username)
        if user is None or user.disabled:
            raise request.fail(LoginRequired("login_required", f"user {who.username} is missing or disabled"))
        resource = request.resource
        entitlements = (
            self.ctx.realm.user_entitlements(user.username, resource.identifier) if resource is not None else frozenset()
        )
        decision = decide_sign_in(
            request.client, user, resource, entitlements, request.scopes,
            client_token_ttl=self.ctx.settings.user_token_ttl,
        )
        if not decision.allowed:
            raise request.fail(refusal(decision.reasons[0], decision.explanation))
        return user, decision

    def _reachable(self, request: AuthorizationRequest, user: User) -> tuple[tuple[str, tuple[str, ...]], ...]:
        if request.resource is not None:
            return ()
        out = []
        for grant in request.client.resource_grants:
            resource = self.ctx.realm.get_resource(grant.resource)
            if resource is None:
                continue
            scopes = set(grant.scopes) & set(resource.scopes) & self.ctx.realm.user_entitlements(user.username, resource.identifier)
            if scopes:
                out.append((resource.name or resource.identifier, tuple(sorted(scopes))))
        return tuple(out)

    def _issue_code(self, request: AuthorizationRequest, who: SignedInUser, decision: Decision, consent: Consent) -> str:
        now = self.ctx.clock.now()
        value = secrets.token_urlsafe(32)
        scopes = tuple(sorted(decision.scopes))
        code = AuthorizationCode(
            code_hash=opaque_hash(value), client_id=request.client.client_id, username=who.username,
            redirect_uri=request.redirect_uri, scope=scopes, resource=_rid(request.resource),
            code_challenge=request.code_challenge, nonce=request.nonce, auth_time=who.auth_time,
            consent_id=consent.consent_id, expires_at=now + self.ctx.settings.authorization_code_ttl,
        )
        event = AuditEvent(
            type="authorization_code.issued", client_id=code.client_id, subject=who.username,
            audience=(code.resource,) if code.resource else (), scope_granted=scopes, mode="user",
            data={"consent_id": consent.consent_id},
        )
        self.codes.save_code(code, event)
        params = {"code": value}
        if request.state is not None:
            params["state"] = request.state
        params["iss"] = self.ctx.issuer  # RFC 9207
        return with_query(request.redirect_uri, params)


def _rid(resource: Resource | None) -> str | None:
    return None if resource is None else resource.identifier


__all__ = [
    "AuthorizationEndpoint",
    "ConsentScreen",
    "NeedsSignIn",
    "Redirect",
    "RedirectError",
    "SignedInUser",
]
