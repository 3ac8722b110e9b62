"""What a grant is, and the registry of grants."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from deputy.audit import AuditEvent
from deputy.errors import InvalidRequest, InvalidScope, InvalidTarget, OAuthError, UnauthorizedClient
from deputy.protocol.client_auth import AuthenticatedClient
from deputy.protocol.context import ServerContext
from deputy.protocol.ports import TokenRecord
from deputy.protocol.request import FormRequest


@dataclass
class Trace:
    """What the endpoint has learnt about a request so far, for the audit event if it is refused.

    Grants fill it in as they go; only the endpoint reads it.
    """

    grant_type: str | None = None
    client_id: str | None = None
    subject: str | None = None
    actor_chain: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()
    scope_requested: tuple[str, ...] | None = None
    mode: str | None = None
    parent_jti: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def refused(self, error: OAuthError) -> AuditEvent:
        return AuditEvent(
            type="token.refused", outcome="failure", client_id=self.client_id, subject=self.subject,
            actor_chain=self.actor_chain, audience=self.audience, grant_type=self.grant_type,
            scope_requested=self.scope_requested, mode=self.mode, parent_jti=self.parent_jti,
            error=error.error, reason=error.reason, detail=error.detail or None, data=dict(self.data),
        )


@dataclass(frozen=True)
class Issued:
    """A grant's result: the response body, the lineage record and the success audit event."""

    body: dict[str, Any]
    record: TokenRecord
    event: AuditEvent


class Grant(Protocol):
    grant_type: str

    def issue(self, request: FormRequest, client: AuthenticatedClient, ctx: ServerContext, trace: Trace) -> Issued: ...


class GrantRegistry:
    def __init__(self) -> None:
        self._grants: dict[str, Grant] = {}
        self._aliases: dict[str, str] = {}

    def register(self, grant: Grant) -> None:
        if grant.grant_type in self._grants or grant.grant_type in self._aliases:
            raise ValueError(f"grant {grant.grant_type!r} registered twice")
        self._grants[grant.grant_type] = grant

    def register_alias(self, alias: str, grant_type: str) -> None:
        """Accept ``alias`` as another spelling of a registered grant type (a vendor dialect):
        it reaches the same grant and is never advertised in :attr:`grant_types`."""
        if alias in self._grants or alias in self._aliases:
            raise ValueError(f"grant {alias!r} registered twice")
        if grant_type not in self._grants:
            raise ValueError(f"alias {alias!r} names no registered grant {grant_type!r}")
        self._aliases[alias] = grant_type

    def get(self, grant_type: str) -> Grant | None:
        return self._grants.get(self._aliases.get(grant_type, grant_type))

    @property
    def grant_types(self) -> list[str]:
        return list(self._grants)


# Policy refusal reasons and the OAuth error each is reported as (RFC 8693 §2.2.2, RFC 6749 §5.2).
_REFUSAL_ERRORS: dict[str, type[OAuthError]] = {
    "client_not_active": UnauthorizedClient,
    "target_not_allowed": InvalidTarget,
    "scope_empty": InvalidScope,
    "approval_required": InvalidScope,
    # draft-mcguinness-oauth-actor-profile: an over-long chain is invalid_request, whatever the grant
    "chain_too_deep": InvalidRequest,
}


def refusal(reason: str, detail: str, default: type[OAuthError] = InvalidRequest) -> OAuthError:
    """The error for a policy refusal; ``default`` for reasons without their own error
    (``invalid_request`` in token exchange, ``invalid_grant`` for an assertion grant)."""
    return _REFUSAL_ERRORS.get(reason, default)(reason, detail)


def default_grants() -> GrantRegistry:
    from deputy.constants import GRANT_JWT_BEARER, GRANT_JWT_BEARER_UNDERSCORE
    from deputy.protocol.grants.client_credentials import ClientCredentialsGrant
    from deputy.protocol.grants.jwt_bearer import JwtBearerGrant
    from deputy.protocol.grants.token_exchange import TokenExchangeGrant

    registry = GrantRegistry()
    registry.register(ClientCredentialsGrant())
    registry.register(TokenExchangeGrant())
    registry.register(JwtBearerGrant())
    # Entra's Agent ID docs write "jwt_bearer": accepted, never advertised (SPECS.md §2, pitfall 11)
    registry.register_alias(GRANT_JWT_BEARER_UNDERSCORE, GRANT_JWT_BEARER)
    return registry
