"""``verify_jwt``: signature, algorithm pin, ``typ`` and claims, always together.

joserfc's ``jwt.decode`` checks the signature only; calling it directly is how expired or
wrongly-typed tokens get accepted. Everything in Deputy that reads a JWT goes through here.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

__all__ = ["JWTInvalid", "VerifiedJWT", "peek_claims", "verify_jwt"]

MAX_JWT_BYTES = 16 * 1024
FORBIDDEN_ALGORITHMS = frozenset({"none", "HS256", "HS384", "HS512"})
# Explicit types of JWTs that must never be accepted where no particular type is required
# (e.g. a client assertion): accepting them is token-type confusion (SPECS.md, pitfall 7).
CONFUSABLE_TYPES = frozenset(
    {
        "at+jwt",
        "oauth-id-jag+jwt",
        "dpop+jwt",
        "txntoken+jwt",
        "logout+jwt",
        "secevent+jwt",
        "token-introspection+jwt",
    }
)


class JWTInvalid(Exception):
    """The JWT failed verification; the message is private detail for logs and audit."""


@dataclass(frozen=True)
class VerifiedJWT:
    header: Mapping[str, Any]
    claims: Mapping[str, Any]


def _b64json(segment: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded))
    if not isinstance(value, dict):
        raise JWTInvalid("segment is not a JSON object")
    return value


def peek_claims(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims WITHOUT verification, to pick keys and issuers. Never trust the result."""
    if len(token) > MAX_JWT_BYTES:
        raise JWTInvalid("token too large")
    parts = token.split(".")
    if len(parts) != 3:
        raise JWTInvalid("not a compact JWS")
    try:
        return _b64json(parts[0]), _b64json(parts[1])
    except (ValueError, UnicodeDecodeError) as exc:
        raise JWTInvalid(f"malformed JWT: {exc.__class__.__name__}") from None


def _audience_matches(aud: object, expected: Collection[str]) -> bool:
    values = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    return any(isinstance(v, str) and v in expected for v in values)


def _bare_typ(value: str) -> str:
    """RFC 7515 §4.1.9: ``application/`` may be omitted, and the comparison ignores case."""
    return value.lower().removeprefix("application/")


def _check_typ(header_typ: object, typ: str | Collection[str] | None) -> None:
    if typ is None:
        bare = _bare_typ(header_typ) if isinstance(header_typ, str) else ""
        if bare in CONFUSABLE_TYPES:
            raise JWTInvalid(f"typ {header_typ!r} is not accepted here")
    elif isinstance(typ, str):
        if not isinstance(header_typ, str) or header_typ.lower() not in {
            typ.lower(),
            f"application/{typ}".lower(),
        }:
            raise JWTInvalid(f"typ {header_typ!r} where {typ!r} is required")
    else:
        accepted = {_bare_typ(t) for t in typ}
        if header_typ is None or header_typ == "":
            if "" not in accepted:
                raise JWTInvalid(f"a typ header is required (one of {sorted(typ)})")
        elif not isinstance(header_typ, str) or _bare_typ(header_typ) not in accepted - {""}:
            raise JWTInvalid(f"typ {header_typ!r} is not one of {sorted(typ)}")


def verify_jwt(
    token: str,
    keys: KeySet,
    *,
    algorithms: Collection[str],
    now: int,
    typ: str | Collection[str] | None,
    issuer: str | Collection[str] | None = None,
    audience: Collection[str] | None = None,
    required: Collection[str] = ("exp",),
    leeway: int = 30,
    max_lifetime: int | None = None,
) -> VerifiedJWT:
    """Verify ``token`` completely or raise :class:`JWTInvalid`.

    ``typ`` None means the header must not claim a different explicit type that we know to be
    a confusion risk; a string must match exactly (case-insensitively, RFC 7515 §4.1.9); a
    collection of strings accepts any one of them, ``""`` standing for a header without ``typ``
    (the tokens of external issuers, whose types Deputy does not choose).
    """
    allowed = [a for a in algorithms if a not in FORBIDDEN_ALGORITHMS]
    header, _ = peek_claims(token)
    alg = header.get("alg")
    if alg not in allowed:
        raise JWTInvalid(f"algorithm {alg!r} not allowed")
    kid = header.get("kid")
    if kid is not None:
        try:
            key = keys.get_by_kid(kid)
        except (ValueError, KeyError, JoseError):
            raise JWTInvalid(f"unknown kid {kid!r}") from None
        key_alg = key.get("alg") if hasattr(key, "get") else None
        if key_alg is not None and key_alg != alg:  # pin the algorithm per key (RS256 -> HS256 etc.)
            raise JWTInvalid(f"key {kid!r} is pinned to {key_alg}, token says {alg}")
    _check_typ(header.get("typ"), typ)
    decoded = _decode(token, keys, alg, kid, allowed)
    claims = decoded.claims
    for name in required:
        if name not in claims:
            raise JWTInvalid(f"missing claim {name!r}")
    for name in ("exp", "nbf", "iat"):
        if name in claims and (not isinstance(claims[name], int) or isinstance(claims[name], bool)):
            raise JWTInvalid(f"claim {name!r} is not an integer")
    if "exp" in claims and claims["exp"] + leeway <= now:
        raise JWTInvalid("token expired")
    if "nbf" in claims and claims["nbf"] - leeway > now:
        raise JWTInvalid("token not yet valid")
    if "iat" in claims and claims["iat"] - leeway > now:
        raise JWTInvalid("token issued in the future")
    if max_lifetime is not None and "exp" in claims and claims["exp"] - now > max_lifetime:
        raise JWTInvalid("exp unreasonably far in the future")
    if issuer is not None:
        issuers = {issuer} if isinstance(issuer, str) else set(issuer)
        if claims.get("iss") not in issuers:
            raise JWTInvalid(f"issuer {claims.get('iss')!r} not accepted")
    if audience is not None and not _audience_matches(claims.get("aud"), audience):
        raise JWTInvalid(f"audience {claims.get('aud')!r} not accepted")
    return VerifiedJWT(header=decoded.header, claims=claims)


def _decode(token: str, keys: KeySet, alg: str, kid: object, allowed: list[str]) -> jwt.Token:
    """Check the signature. Without a ``kid`` (common for clients with one key), try each key
    that is not pinned to another algorithm; there are only ever a handful."""
    if kid is not None:
        candidates: list[Any] = [keys]
    else:
        candidates = [k for k in keys.keys if k.get("alg") in (None, alg)]
    last = "no usable key"
    for candidate in candidates:
        try:
            return jwt.decode(token, candidate, algorithms=allowed)
        except (JoseError, ValueError, TypeError) as exc:  # TypeError: e.g. a "crit" that is not a list
            last = exc.__class__.__name__
    raise JWTInvalid(f"signature check failed: {last}")
