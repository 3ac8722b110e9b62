"""The authorization code grant (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.6).

A code is redeemed once, by the client it was issued to, with the redirect_uri of the
authorization request and the verifier of its S256 challenge. A second redemption is refused and
revokes every token issued from the code (RFC 6749 §4.1.2, "SHOULD revoke"): the code leaked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from deputy.audit import AuditEvent
from deputy.constants import GRANT_AUTHORIZATION_CODE
from deputy.errors import InvalidGrant, InvalidTarget
from deputy.protocol.client_auth import AuthenticatedClient
from deputy.protocol.context import ServerContext
from deputy.protocol.grants.base import Issued, Trace
from deputy.protocol.grants.user_tokens import current_grant, issue_user_tokens, new_refresh_token
from deputy.protocol.request import FormRequest
from deputy.protocol.sign_in_ports import AuthorizationCode, CodeLedger, ConsentLedger, opaque_hash
from deputy.secret import new_token_id

# RFC 7636 §4.1: code_verifier = 43*128 unreserved characters
VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verifier_matches(verifier: str, challenge: str) -> bool:
    return bool(VERIFIER.match(verifier)) and hmac.compare_digest(s256(verifier), challenge)


class AuthorizationCodeGrant:
    grant_type = GRANT_AUTHORIZATION_CODE

    def __init__(self, codes: CodeLedger, consents: ConsentLedger) -> None:
        self.codes = codes
        self.consents = consents

    def issue(self, request: FormRequest, client: AuthenticatedClient, ctx: ServerContext, trace: Trace) -> Issued:
        value = request.required("code")
        redirect_uri = request.required("redirect_uri")
        verifier = request.required("code_verifier")
        trace.mode = "user"
        code = self.codes.get_code(opaque_hash(value))
        if code is None:
            raise InvalidGrant("code_invalid", "unknown authorization code")
        trace.subject = code.username
        trace.scope_requested = code.scope
        trace.audience = (code.resource,) if code.resource else ()
        trace.data["consent_id"] = code.consent_id
        now = ctx.clock.now()
        if code.used_at is not None:
            self._revoke_replayed(code, client.client_id, ctx)
            raise InvalidGrant("code_replayed", f"code used at {code.used_at}; tokens issued from it revoked")
        if code.client_id != client.client_id:
            raise InvalidGrant("code_not_for_client", f"code issued to {code.client_id}")
        if code.expires_at <= now:
            raise InvalidGrant("code_invalid", "authorization code expired")
        if redirect_uri != code.redirect_uri:
            raise InvalidGrant("redirect_uri_differs", f"{redirect_uri!r} != {code.redirect_uri!r}")
        if not verifier_matches(verifier, code.code_challenge):
            raise InvalidGrant("code_verifier_invalid", "S256(code_verifier) != code_challenge")
        resources = request.many("resource")
        if resources and tuple(resources) != ((code.resource,) if code.resource else ()):
            raise InvalidTarget("resource_not_granted", f"resource {list(resources)} vs {code.resource!r}")

        grant = current_grant(
            ctx, self.consents, client.agent, code.username, code.consent_id, code.resource, frozenset(code.scope)
        )
        jti = new_token_id()
        if not self.codes.consume_code(code.code_hash, now, jti):  # lost a race with another redemption
            self._revoke_replayed(code, client.client_id, ctx)
            raise InvalidGrant("code_replayed", "code redeemed concurrently")
        refresh_value, refresh = new_refresh_token(
            ctx, client.agent, grant, family_id=code.code_hash, scope=tuple(sorted(grant.decision.scopes)),
            auth_time=code.auth_time,
        )
        self.codes.save_refresh_token(refresh)
        return issue_user_tokens(
            ctx, client.agent, grant, grant_type=self.grant_type, jti=jti, auth_time=code.auth_time,
            nonce=code.nonce, refresh_token=refresh_value, client_auth=client.method, trace=trace,
        )

    def _revoke_replayed(self, code: AuthorizationCode, presented_by: str, ctx: ServerContext) -> None:
        event = AuditEvent(
            type="authorization_code.replayed", outcome="failure", client_id=code.client_id, subject=code.username,
            audience=(code.resource,) if code.resource else (), reason="code_replayed",
            data={"consent_id": code.consent_id, "presented_by": presented_by},
        )
        self.codes.revoke_family(code.code_hash, "authorization code replayed", ctx.clock.now(), event)
