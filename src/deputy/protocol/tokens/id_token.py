"""OpenID Connect ID tokens (OIDC Core §2, §3.1.3.6) and the claims that describe a user (§5.1).

An ID token tells the client who signed in; it is never an access token: its ``typ`` is ``JWT``,
and everything that reads access tokens demands ``at+jwt`` (SPECS.md, pitfall 7).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from typing import Any

from deputy.realm import User


def at_hash(access_token: str) -> str:
    """§3.1.3.6: base64url of the left half of the SHA-256 of the access token (ES256/RS256)."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def id_token_claims(
    *,
    issuer: str,
    subject: str,
    client_id: str,
    now: int,
    ttl: int,
    auth_time: int,
    jti: str,
    nonce: str | None = None,
    access_token: str | None = None,
) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": client_id,
        "azp": client_id,
        "exp": now + ttl,
        "iat": now,
        "auth_time": auth_time,
        "jti": jti,
    }
    if nonce is not None:
        claims["nonce"] = nonce
    if access_token is not None:
        claims["at_hash"] = at_hash(access_token)
    return claims


def user_claims(user: User, scopes: Iterable[str]) -> dict[str, Any]:
    """The standard claims the granted scopes release (§5.4), for the userinfo endpoint."""
    granted = set(scopes)
    claims: dict[str, Any] = {"sub": user.username}
    if "profile" in granted:
        claims["preferred_username"] = user.username
        if user.display_name:
            claims["name"] = user.display_name
    if "email" in granted and user.email:
        claims["email"] = user.email
    return claims


# The claims Deputy may put in an ID token or a userinfo response (for discovery).
CLAIMS_SUPPORTED = (
    "iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "jti", "nonce", "at_hash",
    "name", "preferred_username", "email",
)
