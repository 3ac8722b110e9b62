"""Issuing a delegated token: the one decision and the one token format behind every grant in
which an agent acts for a user (RFC 8693 token exchange, Entra-style on-behalf-of, ID-JAG
redemption), so that the dialect a client speaks never changes what it gets.

The token's ``sub`` is the user, ``act`` names the agent with the subject's own chain nested
inside (RFC 8693 §4.1), ``aud`` is the one resource, and it never outlives the subject.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deputy.audit import AuditEvent
from deputy.constants import TYP_ACCESS_TOKEN
from deputy.errors import InvalidRequest, OAuthError
from deputy.policy import DelegationRequest, decide
from deputy.protocol.client_auth import AuthenticatedClient
from deputy.protocol.context import ServerContext
from deputy.protocol.grants.base import Trace, refusal
from deputy.protocol.grants.subject import Subject
from deputy.protocol.ports import TokenRecord
from deputy.protocol.tokens import access_token_claims, act_chain, build_act
from deputy.realm import Resource
from deputy.secret import new_token_id


@dataclass(frozen=True)
class Delegated:
    """The signed token, its lifetime and granted scopes, its lineage record and audit event."""

    token: str
    ttl: int
    granted: tuple[str, ...]
    record: TokenRecord
    event: AuditEvent


def issue_delegated(
    ctx: ServerContext,
    client: AuthenticatedClient,
    subject: Subject,
    resource: Resource,
    *,
    requested_scopes: frozenset[str] | None,
    grant_type: str,
    trace: Trace,
    impersonation: bool = False,
    default_error: type[OAuthError] = InvalidRequest,
    data: Mapping[str, Any] | None = None,
    approved: bool = False,
) -> Delegated:
    """Decide and issue, or raise the refusal. ``default_error`` is the OAuth error of a refusal
    that has no error of its own: ``invalid_request`` for a subject token (RFC 8693 §2.2.2),
    ``invalid_grant`` for an assertion (RFC 7521 §5.2). ``approved``: the user approved this very
    request (the CIBA grant), so approval-required scopes may be issued; every other grant leaves
    them out (docs/approvals.md)."""
    agent = client.agent
    user = subject.user
    prior_act = subject.act
    prior_chain = tuple(act_chain(prior_act))
    trace.audience = (resource.identifier,)
    mode = "impersonation" if impersonation else "delegation"
    trace.mode = mode
    chain = prior_chain if impersonation else (agent.client_id, *prior_chain)
    trace.actor_chain = chain

    subject_scopes: frozenset[str] | None = None
    if subject.downstream:
        subject_scopes = subject.scopes
        if not subject_scopes:
            # A downstream token without scope must not pass every subset check (pitfall 1).
            raise default_error("subject_token_without_scope", f"subject token {subject.parent_jti} has no scope")

    may_act = subject.may_act
    if may_act is not None and not isinstance(may_act, dict):
        # A malformed may_act must not read as "no restriction" (fail closed).
        raise default_error("may_act_mismatch", f"may_act is a {type(may_act).__name__}, not an object")
    decision = decide(
        DelegationRequest(
            agent=agent, user=user, resource=resource,
            user_entitlements=ctx.realm.user_entitlements(user.username, resource.identifier),
            requested_scopes=requested_scopes, subject_scopes=subject_scopes,
            chain_depth=len(chain), max_chain_depth=ctx.settings.max_chain_depth,
            may_act=may_act if isinstance(may_act, dict) else None,
            issuer=ctx.issuer, impersonation=impersonation, user_approved=approved,
        )
    )
    if not decision.allowed:
        raise refusal(decision.reasons[0], decision.explanation, default_error)

    now = ctx.clock.now()
    # Never outlive the subject: a resource that checks the JWT locally would otherwise accept a
    # delegated token after the authority it came from has ended.
    ttl = min(decision.ttl, max(subject.expires_at - now, 1))
    jti = new_token_id()
    act = None if impersonation else build_act(agent.client_id, ctx.issuer, prior_act)
    claims = access_token_claims(
        issuer=ctx.issuer, subject=user.username, audience=resource.identifier, client_id=agent.client_id,
        scopes=decision.scopes, jti=jti, now=now, ttl=ttl, act=act,
    )
    token = ctx.keys.key_ring().sign(claims, typ=TYP_ACCESS_TOKEN, alg=resource.signing_alg)
    granted = tuple(sorted(decision.scopes))
    record = TokenRecord(
        jti=jti, subject=user.username, client_id=agent.client_id, grant_type=grant_type, mode=mode,
        issued_at=now, expires_at=now + ttl, audience=(resource.identifier,), scope=granted,
        actors=chain, parent_jti=subject.parent_jti,
    )
    event = AuditEvent(
        type="token.issued", client_id=agent.client_id, subject=user.username, actor_chain=chain,
        audience=(resource.identifier,), grant_type=grant_type, scope_requested=trace.scope_requested,
        scope_granted=granted, mode=mode, jti=jti, parent_jti=subject.parent_jti,
        data={
            "client_auth": client.method, **(data or {}), **subject.audit,
            **({"approval_withheld": sorted(decision.withheld)} if decision.withheld else {}),
        },
    )
    return Delegated(token, ttl, granted, record, event)
