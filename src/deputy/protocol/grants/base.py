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

    def register(self, grant: Grant) -> None:
        if grant.grant_type in self._grants:
            raise ValueError(f"grant {grant.grant_type!r} registered twice")
        self._grants[grant.grant_type] = grant

    def get(self, grant_type: str) -> Grant | None:
        return self._grants.get(grant_type)

    @property
    def grant_types(self) -> list[str]:
        return list(self._grants)


# Policy refusal reasons and the OAuth error each is reported as (RFC 8693 §2.2.2, RFC 6749 §5.2).
_REFUSAL_ERRORS: dict[str, type[OAuthError]] = {
    "client_not_active": UnauthorizedClient,
    "target_not_allowed": InvalidTarget,
    "scope_empty": InvalidScope,
}


def refusal(reason: str, detail: str) -> OAuthError:
    return _REFUSAL_ERRORS.get(reason, InvalidRequest)(reason, detail)


def default_grants() -> GrantRegistry:
    from deputy.protocol.grants.client_credentials import ClientCredentialsGrant
    from deputy.protocol.grants.token_exchange import TokenExchangeGrant

    registry = GrantRegistry()
    registry.register(ClientCredentialsGrant())
    registry.register(TokenExchangeGrant())
    return registry
