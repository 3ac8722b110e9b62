"""The refresh token grant (RFC 6749 §6) with rotation and reuse detection.

Every use returns a new refresh token and retires the old one (OAuth 2.0 Security BCP §4.14.2).
A retired token presented again means two parties hold the family: the whole family is revoked,
with every access token issued in it and everything exchanged from those.
"""

from __future__ import annotations

from deputy.audit import AuditEvent
from deputy.constants import GRANT_REFRESH_TOKEN
from deputy.errors import InvalidGrant, InvalidScope, InvalidTarget
from deputy.protocol.client_auth import AuthenticatedClient
from deputy.protocol.context import ServerContext
from deputy.protocol.grants.base import Issued, Trace
from deputy.protocol.grants.user_tokens import current_grant, issue_user_tokens, new_refresh_token
from deputy.protocol.request import FormRequest
from deputy.protocol.sign_in_ports import CodeLedger, ConsentLedger, RefreshToken, opaque_hash
from deputy.secret import new_token_id


class RefreshTokenGrant:
    grant_type = GRANT_REFRESH_TOKEN

    def __init__(self, codes: CodeLedger, consents: ConsentLedger) -> None:
        self.codes = codes
        self.consents = consents

    def issue(self, request: FormRequest, client: AuthenticatedClient, ctx: ServerContext, trace: Trace) -> Issued:
        value = request.required("refresh_token")
        requested = request.scopes()
        trace.scope_requested = tuple(sorted(requested)) if requested is not None else None
        trace.mode = "user"
        current = self.codes.get_refresh_token(opaque_hash(value))
        if current is None:
            raise InvalidGrant("refresh_token_invalid", "unknown refresh token")
        trace.subject = current.username
        trace.audience = (current.resource,) if current.resource else ()
        trace.data["consent_id"] = current.consent_id
        if current.client_id != client.client_id:
            raise InvalidGrant("refresh_token_invalid", f"refresh token issued to {current.client_id}")
        if current.revoked_at is not None:
            raise InvalidGrant("refresh_token_invalid", "refresh token revoked")
        if current.used_at is not None:
            self._revoke_family(current, ctx)
            raise InvalidGrant("refresh_token_reused", f"rotated at {current.used_at}; family {current.family_id} revoked")
        now = ctx.clock.now()
        if current.expires_at <= now:
            raise InvalidGrant("refresh_token_invalid", "refresh token expired")
        granted = frozenset(current.scope)
        if requested is not None and not requested <= granted:
            raise InvalidScope("scope_not_granted", f"requested {sorted(requested)} > granted {sorted(granted)}")
        resources = request.many("resource")
        if resources and tuple(resources) != ((current.resource,) if current.resource else ()):
            raise InvalidTarget("resource_not_granted", f"resource {list(resources)} vs {current.resource!r}")

        grant = current_grant(
            ctx, self.consents, client.agent, current.username, current.consent_id, current.resource,
            requested if requested is not None else granted,
        )
        # RFC 6749 §6: the new refresh token keeps the scope of the one it replaces.
        new_value, new = new_refresh_token(
            ctx, client.agent, grant, family_id=current.family_id, scope=current.scope,
            auth_time=current.auth_time, expires_at=current.expires_at,
        )
        jti = new_token_id()
        if not self.codes.rotate_refresh_token(current.token_hash, now, new, jti):
            self._revoke_family(current, ctx)
            raise InvalidGrant("refresh_token_reused", "refresh token used concurrently; family revoked")
        return issue_user_tokens(
            ctx, client.agent, grant, grant_type=self.grant_type, jti=jti, auth_time=current.auth_time,
            nonce=None, refresh_token=new_value, client_auth=client.method, trace=trace,
        )

    def _revoke_family(self, token: RefreshToken, ctx: ServerContext) -> None:
        event = AuditEvent(
            type="refresh_token.reused", outcome="failure", client_id=token.client_id, subject=token.username,
            audience=(token.resource,) if token.resource else (), reason="refresh_token_reused",
            data={"consent_id": token.consent_id, "family_id": token.family_id},
        )
        self.codes.revoke_family(token.family_id, "refresh token reused", ctx.clock.now(), event)
