"""Who may get what, on whose behalf (DESIGN.md, "The delegation decision").

issued = requested ∩ user's entitlements at the resource ∩ agent's permitted scopes at the
resource ∩ scopes the resource defines (∩ the subject token's own scopes when it is itself a
downstream token: authority only shrinks).

Scopes a resource marks as needing approval (``Resource.approval_scopes``) are withheld unless the
user approved this very request (OpenID CIBA, docs/approvals.md): an exchange alone never yields
them. They are dropped like any other scope outside the intersection; when nothing else is left
the refusal is ``approval_required``, so that the agent knows to ask the user.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deputy.realm import Agent, AgentStatus, Resource, User


@dataclass(frozen=True)
class DelegationRequest:
    agent: Agent
    user: User
    resource: Resource
    user_entitlements: frozenset[str]
    requested_scopes: frozenset[str] | None  # None: the request named no scope
    # The subject token's scopes when it is a downstream token; None for a user's own token.
    subject_scopes: frozenset[str] | None
    chain_depth: int  # actors in the resulting token, this agent included
    max_chain_depth: int
    may_act: Mapping[str, Any] | None
    issuer: str
    impersonation: bool = False
    # The user approved this request (a CIBA approval): approval-required scopes may be issued.
    user_approved: bool = False


@dataclass(frozen=True)
class Decision:
    allowed: bool
    scopes: frozenset[str] = frozenset()
    ttl: int = 0
    # The first reason is the refusal reason (a key of deputy.errors.PUBLIC_TEXT).
    reasons: tuple[str, ...] = ()
    explanation: str = ""
    # Approval-required scopes left out because the user did not approve this request.
    withheld: frozenset[str] = frozenset()


def _refuse(reason: str, explanation: str) -> Decision:
    return Decision(False, reasons=(reason,), explanation=explanation)


def may_act_allows(may_act: Mapping[str, Any], actor: str, issuer: str) -> bool:
    """RFC 8693 §4.4: the claims in ``may_act`` identify who may act; an ``iss`` there must match."""
    if may_act.get("sub") != actor:
        return False
    return "iss" not in may_act or may_act["iss"] == issuer


def decide(req: DelegationRequest) -> Decision:
    agent, user, resource = req.agent, req.user, req.resource
    if agent.status is not AgentStatus.ACTIVE:
        return _refuse("client_not_active", f"agent {agent.client_id} is {agent.status.value}")
    if user.disabled:
        return _refuse("subject_user_unknown", f"user {user.username} is disabled")
    if req.impersonation and not agent.may_impersonate:
        return _refuse("impersonation_not_allowed", f"agent {agent.client_id} may not impersonate")
    if not agent.may_act_for(user):
        return _refuse(
            "subject_not_delegated",
            f"agent {agent.client_id} may not act for {user.username} (groups {list(user.groups)})",
        )
    grant = agent.grant_for(resource.identifier)
    if grant is None:
        return _refuse("target_not_allowed", f"agent {agent.client_id} has no grant for {resource.identifier}")
    if req.chain_depth > req.max_chain_depth:
        return _refuse("chain_too_deep", f"chain depth {req.chain_depth} > limit {req.max_chain_depth}")
    if req.may_act is not None and not may_act_allows(req.may_act, agent.client_id, req.issuer):
        return _refuse("may_act_mismatch", f"may_act {dict(req.may_act)} does not name {agent.client_id}")

    scopes = frozenset(resource.scopes) & frozenset(grant.scopes) & req.user_entitlements
    if req.subject_scopes is not None:
        scopes &= req.subject_scopes
    if req.requested_scopes is not None:
        scopes &= req.requested_scopes
    withheld = frozenset() if req.user_approved else scopes & frozenset(resource.approval_scopes)
    scopes -= withheld
    if not scopes and withheld:
        return _refuse("approval_required", f"scopes {sorted(withheld)} at {resource.identifier} need the user's approval")
    if not scopes:
        return _refuse(
            "scope_empty",
            "no scope left: requested={} user={} agent={} resource={} subject={}".format(
                sorted(req.requested_scopes) if req.requested_scopes is not None else "any",
                sorted(req.user_entitlements), sorted(grant.scopes), sorted(resource.scopes),
                sorted(req.subject_scopes) if req.subject_scopes is not None else "n/a",
            ),
        )
    return Decision(True, scopes=scopes, ttl=resource.token_ttl, reasons=("granted",), withheld=withheld)


def decide_client_credentials(agent: Agent, resource: Resource, requested: frozenset[str] | None) -> Decision:
    """Machine to machine: the agent acts as itself, limited to its grant at the resource."""
    if agent.status is not AgentStatus.ACTIVE:
        return _refuse("client_not_active", f"agent {agent.client_id} is {agent.status.value}")
    grant = agent.grant_for(resource.identifier)
    if grant is None:
        return _refuse("target_not_allowed", f"agent {agent.client_id} has no grant for {resource.identifier}")
    scopes = frozenset(resource.scopes) & frozenset(grant.scopes)
    if requested is not None:
        scopes &= requested
    # No user is there to approve: approval-required scopes are never issued to an agent alone.
    withheld = scopes & frozenset(resource.approval_scopes)
    scopes -= withheld
    if not scopes and withheld:
        return _refuse("approval_required", f"scopes {sorted(withheld)} at {resource.identifier} need a user's approval")
    if not scopes:
        return _refuse("scope_empty", f"no scope left for {agent.client_id} at {resource.identifier}")
    return Decision(True, scopes=scopes, ttl=resource.token_ttl, reasons=("granted",), withheld=withheld)
