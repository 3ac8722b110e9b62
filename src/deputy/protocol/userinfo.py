"""The UserInfo endpoint (OIDC Core §5.3), with a Deputy access token as the bearer credential.

Accepted: a live user token (mode ``user``, never an exchanged one) that carries ``openid`` and
is addressed to its own client or to Deputy; a token for another resource is for that resource.
"""

from __future__ import annotations

from typing import Any

from deputy.errors import InsufficientScope, InvalidToken
from deputy.jose import JWTInvalid
from deputy.protocol.context import ServerContext
from deputy.protocol.tokens import TokenInactive, read_own_token
from deputy.protocol.tokens.id_token import user_claims


def bearer_token(authorization: str | None) -> str | None:
    """RFC 6750 §2.1: ``Authorization: Bearer <token>``."""
    if authorization is None:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None


def userinfo(token: str | None, ctx: ServerContext) -> dict[str, Any]:
    if token is None:
        raise InvalidToken("access_token_invalid", "no bearer token")
    try:
        own = read_own_token(token, ctx)
    except (JWTInvalid, TokenInactive) as exc:
        raise InvalidToken("access_token_invalid", str(exc)) from None
    if own.record.mode != "user":
        raise InvalidToken("access_token_invalid", f"a {own.record.mode} token is not a user's own token")
    acceptable = {own.record.client_id, ctx.issuer, f"{ctx.issuer}/userinfo"}
    if not own.audiences & acceptable:
        raise InvalidToken("access_token_invalid", f"token for {sorted(own.audiences)}, not for userinfo")
    scopes = own.scopes or frozenset()
    if "openid" not in scopes:
        raise InsufficientScope("openid_scope_missing", f"scope {sorted(scopes)}")
    user = ctx.realm.get_user(own.record.subject)
    if user is None:  # read_own_token checked it; a deletion could race
        raise InvalidToken("access_token_invalid", "user gone")
    return user_claims(user, scopes)
