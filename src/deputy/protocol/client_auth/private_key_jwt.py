"""private_key_jwt (RFC 7523 §2.2 and §3; OIDC Core §9), with jti replay protection."""

from __future__ import annotations

from joserfc.jwk import KeySet, import_key

from deputy.constants import AUTH_PRIVATE_KEY_JWT, CLIENT_ASSERTION_ALGORITHMS, CLIENT_ASSERTION_TYPE_JWT_BEARER
from deputy.errors import InvalidClient, InvalidRequest
from deputy.jose import JWTInvalid, peek_claims, verify_jwt
from deputy.protocol.client_auth.base import AuthenticatedClient, require_active_credentials
from deputy.protocol.context import ServerContext
from deputy.protocol.request import FormRequest


class PrivateKeyJWT:
    name = AUTH_PRIVATE_KEY_JWT

    def presented(self, request: FormRequest) -> bool:
        return request.one("client_assertion") is not None or request.one("client_assertion_type") is not None

    def authenticate(self, request: FormRequest, ctx: ServerContext, endpoint_url: str) -> AuthenticatedClient:
        assertion_type = request.one("client_assertion_type")
        assertion = request.one("client_assertion")
        if assertion_type != CLIENT_ASSERTION_TYPE_JWT_BEARER:
            raise InvalidClient("client_assertion_invalid", f"client_assertion_type {assertion_type!r}")
        if assertion is None:
            raise InvalidRequest("missing_parameter", "client_assertion is required")
        try:
            _, unverified = peek_claims(assertion)
        except JWTInvalid as exc:
            raise InvalidClient("client_assertion_invalid", str(exc)) from None
        client_id = unverified.get("sub")
        if not isinstance(client_id, str) or unverified.get("iss") != client_id:
            raise InvalidClient("client_assertion_invalid", "iss and sub must both be the client_id")
        body_id = request.one("client_id")
        if body_id is not None and body_id != client_id:
            raise InvalidClient("client_assertion_invalid", "client_id differs from the assertion's sub")
        agent = require_active_credentials(ctx.realm.get_agent(client_id), client_id, self.name)
        keys = KeySet([import_key(dict(k.jwk)) for k in agent.keys])
        now = ctx.clock.now()
        settings = ctx.settings
        # RFC 7523 §3: aud identifies the AS; the token endpoint URL may be used. rfc7523bis moves
        # to the issuer alone. Accept both, and the URL of the endpoint actually called.
        audiences = {settings.issuer, settings.token_endpoint, endpoint_url}
        try:
            verified = verify_jwt(
                assertion, keys, algorithms=CLIENT_ASSERTION_ALGORITHMS, now=now, typ=None,
                issuer=client_id, audience=audiences, required=("exp", "jti"),
                leeway=settings.clock_leeway, max_lifetime=settings.assertion_max_lifetime,
            )
        except JWTInvalid as exc:
            raise InvalidClient("client_assertion_invalid", f"{client_id}: {exc}") from None
        jti = verified.claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise InvalidClient("client_assertion_invalid", "jti must be a non-empty string")
        if not ctx.replay.mark_used(f"client_assertion:{client_id}:{jti}", int(verified.claims["exp"]) + settings.clock_leeway):
            raise InvalidClient("client_assertion_replayed", f"{client_id} reused jti {jti!r}")
        return AuthenticatedClient(agent, self.name)
