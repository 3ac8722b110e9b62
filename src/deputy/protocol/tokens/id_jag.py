"""Identity Assertion JWT Authorization Grants (ID-JAG, draft-ietf-oauth-identity-assertion-authz-grant):
the claims Deputy puts in one it issues, and the verification of one a trusted IdP issued.

An ID-JAG is never an access token: its header ``typ`` is ``oauth-id-jag+jwt`` and everything that
reads access tokens demands ``at+jwt`` (and the reverse), so neither can pass for the other
(SPECS.md, pitfall 7).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from deputy.constants import TYP_ID_JAG
from deputy.jose import JWTInvalid, KeySet, verify_jwt
from deputy.protocol.tokens.external import ExternalToken
from deputy.realm import TrustedIssuer

# §3.1: the claims every ID-JAG carries
REQUIRED_CLAIMS = ("iss", "sub", "aud", "client_id", "jti", "exp", "iat")


def id_jag_claims(
    *,
    issuer: str,
    subject: str,
    audience: str,
    client_id: str,
    jti: str,
    now: int,
    ttl: int,
    resources: tuple[str, ...] = (),
    scopes: Iterable[str] | None = None,
    auth_time: int | None = None,
    act: Mapping[str, Any] | None = None,
    email: str | None = None,
) -> dict[str, Any]:
    """``aud`` is one string, the resource authorization server's issuer; ``client_id`` is the
    client's id AT that server. ``scope`` is present only when the client asked for scopes."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "client_id": client_id,
        "jti": jti,
        "exp": now + ttl,
        "iat": now,
    }
    if resources:
        claims["resource"] = resources[0] if len(resources) == 1 else list(resources)
    if scopes is not None:
        claims["scope"] = " ".join(sorted(scopes))
    if auth_time is not None:
        claims["auth_time"] = auth_time
    if act is not None:
        claims["act"] = dict(act)
    if email:
        claims["email"] = email
    return claims


def _text(claims: Mapping[str, Any], name: str) -> None:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise JWTInvalid(f"claim {name!r} must be a non-empty string")


def verify_id_jag(
    token: str, issuer: TrustedIssuer, keys: KeySet, *, now: int, leeway: int, max_lifetime: int
) -> ExternalToken:
    """Raise :class:`JWTInvalid` unless ``token`` is an ID-JAG genuinely signed by ``issuer``,
    live, and well-formed (RFC 7521 §5.2, RFC 7523 §3). Whether it is for this server (``aud``)
    and this client (``client_id``) is the grant's question."""
    verified = verify_jwt(
        token, keys, algorithms=issuer.algorithms, now=now, typ=TYP_ID_JAG, issuer=issuer.issuer,
        required=REQUIRED_CLAIMS, leeway=leeway, max_lifetime=max_lifetime,
    )
    claims = verified.claims
    for name in ("sub", "client_id", "jti"):
        _text(claims, name)
    if "scope" in claims and not isinstance(claims["scope"], str):
        raise JWTInvalid("claim 'scope' must be a space-separated string")
    resource = claims.get("resource")
    if resource is not None and not (
        isinstance(resource, str) or (isinstance(resource, list) and all(isinstance(r, str) for r in resource))
    ):
        raise JWTInvalid("claim 'resource' must be a string or a list of strings")
    return ExternalToken(issuer, verified.header, claims)


def assertion_scopes(claims: Mapping[str, Any]) -> frozenset[str] | None:
    raw = claims.get("scope")
    return frozenset(raw.split()) if isinstance(raw, str) else None


def assertion_resources(claims: Mapping[str, Any]) -> tuple[str, ...]:
    raw = claims.get("resource")
    if isinstance(raw, str):
        return (raw,)
    return tuple(r for r in raw if isinstance(r, str)) if isinstance(raw, list) else ()
