"""Token revocation (RFC 7009). Revocation cascades to every token exchanged from the revoked one."""

from __future__ import annotations

import logging

from deputy.audit import AuditEvent
from deputy.jose import JWTInvalid
from deputy.protocol.client_auth import ClientAuthenticator, default_authenticator
from deputy.protocol.context import ServerContext
from deputy.protocol.request import FormRequest
from deputy.protocol.response import NO_STORE, Response
from deputy.protocol.sign_in_ports import CodeLedger, opaque_hash
from deputy.protocol.tokens import TokenInactive, read_own_token

log = logging.getLogger("deputy.revocation")


class RevocationEndpoint:
    def __init__(
        self, ctx: ServerContext, authenticator: ClientAuthenticator | None = None, codes: CodeLedger | None = None
    ) -> None:
        self.ctx = ctx
        self.authenticator = authenticator or default_authenticator()
        self.codes = codes  # refresh tokens (sign-in); None: only JWT access tokens are revocable

    def handle(self, request: FormRequest) -> Response:
        client = self.authenticator.authenticate(request, self.ctx, f"{self.ctx.issuer}/revoke")
        token = request.required("token")
        request.one("token_type_hint")  # §2.1: a hint only; we search all types anyway
        ok = Response(200, {}, dict(NO_STORE))
        try:
            own = read_own_token(token, self.ctx, check_expiry=False)
        except JWTInvalid as exc:
            if self._revoke_refresh_token(token, client.client_id):
                return ok
            log.info("revocation: not a Deputy token (%s)", exc)
            return ok  # §2.2: invalid tokens do not cause an error
        except TokenInactive as exc:
            log.info("revocation: already inactive (%s)", exc)
            return ok
        record = own.record
        # §2.1: a client may revoke tokens issued to it; here also those it acted in or received.
        entitled = (
            client.client_id == record.client_id
            or client.client_id in record.actors
            or bool(own.audiences & client.agent.identifiers)
        )
        event = AuditEvent(
            type="token.revoked" if entitled else "token.revocation_refused",
            outcome="success" if entitled else "failure",
            client_id=client.client_id, subject=record.subject, actor_chain=record.actors,
            audience=record.audience, jti=record.jti, parent_jti=record.parent_jti,
            reason=None if entitled else "not_token_owner",
        )
        if entitled:
            self.ctx.tokens.revoke(record.jti, f"revoked by {client.client_id}", self.ctx.clock.now(), event)
        else:
            # Answer 200 all the same, so that the endpoint cannot be used to probe tokens.
            self.ctx.audit.append(event)
        return ok

    def _revoke_refresh_token(self, token: str, client_id: str) -> bool:
        """§2.1: revoking a refresh token also ends the access tokens of the same grant, so the
        whole family goes (its refresh tokens, the access tokens issued in it, and what was
        exchanged from those)."""
        if self.codes is None:
            return False
        stored = self.codes.get_refresh_token(opaque_hash(token))
        if stored is None:
            return False
        owner = stored.client_id == client_id
        event = AuditEvent(
            type="refresh_token.revoked" if owner else "token.revocation_refused",
            outcome="success" if owner else "failure", client_id=client_id, subject=stored.username,
            audience=(stored.resource,) if stored.resource else (), reason=None if owner else "not_token_owner",
            data={"family_id": stored.family_id, "consent_id": stored.consent_id},
        )
        if owner:
            self.codes.revoke_family(stored.family_id, f"refresh token revoked by {client_id}", self.ctx.clock.now(), event)
        else:
            self.ctx.audit.append(event)
        return True
