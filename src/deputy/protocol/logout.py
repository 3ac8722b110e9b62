"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2, §3).

The ``post_logout_redirect_uri`` must exactly match a redirect URI registered for the client
named by ``client_id`` or by the ``id_token_hint``'s audience; otherwise nothing is redirected.
"""

from __future__ import annotations

from dataclasses import dataclass

from deputy.constants import ID_TOKEN_ALG, TYP_ID_TOKEN
from deputy.errors import InvalidRequest
from deputy.jose import JWTInvalid, verify_jwt
from deputy.protocol.authorization_request import with_query
from deputy.protocol.context import ServerContext
from deputy.realm import Agent


@dataclass(frozen=True)
class LogoutRequest:
    client: Agent | None
    post_logout_redirect_uri: str | None
    state: str | None

    def location(self) -> str | None:
        if self.post_logout_redirect_uri is None:
            return None
        if self.state is None:
            return self.post_logout_redirect_uri
        return with_query(self.post_logout_redirect_uri, {"state": self.state})


def hinted_client(id_token_hint: str, ctx: ServerContext) -> str:
    """The client an ID token we issued was for; an expired one is still a good hint (§2)."""
    try:
        verified = verify_jwt(
            id_token_hint, ctx.keys.key_ring().verification_keys, algorithms=(ID_TOKEN_ALG,), now=ctx.clock.now(),
            typ=TYP_ID_TOKEN, issuer=ctx.issuer, required=("aud", "sub"), leeway=10**9,
        )
    except JWTInvalid as exc:
        raise InvalidRequest("invalid_parameter", f"id_token_hint: {exc}") from None
    aud = verified.claims["aud"]
    if isinstance(aud, list) and len(aud) == 1:
        aud = aud[0]
    if not isinstance(aud, str):
        raise InvalidRequest("invalid_parameter", "id_token_hint has no single audience")
    return aud


def parse_logout_request(
    ctx: ServerContext,
    *,
    client_id: str | None,
    id_token_hint: str | None,
    post_logout_redirect_uri: str | None,
    state: str | None,
) -> LogoutRequest:
    """Errors here are shown to the user, never redirected."""
    if id_token_hint is not None:
        hinted = hinted_client(id_token_hint, ctx)
        if client_id is not None and client_id != hinted:
            raise InvalidRequest("invalid_parameter", f"client_id {client_id} but id_token_hint for {hinted}")
        client_id = hinted
    client = ctx.realm.get_agent(client_id) if client_id is not None else None
    if client_id is not None and client is None:
        raise InvalidRequest("authorize_client_unknown", f"client {client_id!r} unknown")
    if post_logout_redirect_uri is not None:
        if client is None:
            raise InvalidRequest("authorize_client_missing", "post_logout_redirect_uri without a client")
        if post_logout_redirect_uri not in client.redirect_uris:
            raise InvalidRequest("redirect_uri_mismatch", f"{post_logout_redirect_uri!r} not registered")
    return LogoutRequest(client, post_logout_redirect_uri, state)
