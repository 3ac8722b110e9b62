"""What a signed-in user can grant a client (the authorization code flow).

With a ``resource`` (RFC 8707): the API scopes are the requested ones ∩ the resource's scopes ∩
the client's grant at the resource ∩ the user's entitlements there; a client without a grant
for the resource is refused, as in token exchange. Without a resource the token is addressed to
the client itself (which may later exchange it, under the delegation decision) and carries only
OpenID scopes. OpenID scopes (``openid``, ``profile``, ``email``, ``offline_access``) are kept
whenever they are asked for.
"""

from __future__ import annotations

from typing import Final

from deputy.policy.delegation import Decision
from deputy.realm import Agent, AgentStatus, Resource, User

OIDC_SCOPES: Final = frozenset({"openid", "profile", "email", "offline_access"})


def _refuse(reason: str, explanation: str) -> Decision:
    return Decision(False, reasons=(reason,), explanation=explanation)


def decide_sign_in(
    agent: Agent,
    user: User,
    resource: Resource | None,
    user_entitlements: frozenset[str],
    requested: frozenset[str] | None,
    *,
    client_token_ttl: int,
) -> Decision:
    """``requested`` None: the request named no scope. API scopes named without any OpenID
    scope, or no API scope named at all, mean "what the user may grant at the resource"."""
    if agent.status is not AgentStatus.ACTIVE:
        return _refuse("client_not_active", f"client {agent.client_id} is {agent.status.value}")
    if user.disabled:
        return _refuse("grant_withdrawn", f"user {user.username} is disabled")
    oidc = (requested or frozenset()) & OIDC_SCOPES
    if resource is None:
        return Decision(True, scopes=oidc, ttl=client_token_ttl, reasons=("granted",))
    grant = agent.grant_for(resource.identifier)
    if grant is None:
        return _refuse("target_not_allowed", f"client {agent.client_id} has no grant for {resource.identifier}")
    api = frozenset(resource.scopes) & frozenset(grant.scopes) & user_entitlements
    asked = (requested or frozenset()) - OIDC_SCOPES
    if asked:
        api &= asked
    if not api:
        return _refuse(
            "scope_empty",
            "no scope left at {}: requested={} user={} client={} resource={}".format(
                resource.identifier, sorted(asked) if asked else "any", sorted(user_entitlements),
                sorted(grant.scopes), sorted(resource.scopes),
            ),
        )
    return Decision(True, scopes=api | oidc, ttl=resource.token_ttl, reasons=("granted",))
