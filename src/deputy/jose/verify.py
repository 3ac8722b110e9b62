"""``verify_jwt``: signature, algorithm pin, ``typ`` and claims, always together.

A bare signature check (joserfc's ``jwt.decode``, or :func:`deputy.jose.compact.signature_valid`)
is how expired or wrongly-typed tokens get accepted. Everything in Deputy that reads a JWT goes
through here: the server (subject, actor and client-assertion tokens) and the resource SDK.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Collection, Mapping
from typing import Any, NamedTuple

from joserfc.jwk import Key, KeySet

from deputy.jose.compact import MAX_JWT_BYTES, CompactJWS, JWTInvalid, parse_jws, signature_valid

__all__ = ["MAX_JWT_BYTES", "JWTInvalid", "VerifiedJWT", "peek_claims", "verify_jwt"]

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


class VerifiedJWT(NamedTuple):
    """A JWT that passed :func:`verify_jwt`: its header (read-only) and its claims."""

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
    if isinstance(aud, str):  # RFC 7519 §4.1.3: one string, or an array of them
        return aud in expected
    return isinstance(aud, list) and any(isinstance(v, str) and v in expected for v in aud)


def _bare_typ(value: str) -> str:
    """RFC 7515 §4.1.9: ``application/`` may be omitted, and the comparison ignores case."""
    return value.lower().removeprefix("application/")


def _check_typ(header_typ: object, typ: str | Collection[str] | None) -> None:
    if typ is None:
        bare = _bare_typ(header_typ) if isinstance(header_typ, str) else ""
        if bare in CONFUSABLE_TYPES:
            raise JWTInvalid(f"typ {header_typ!r} is not accepted here")
    elif isinstance(typ, str):
        if header_typ == typ:
            return
        if not isinstance(header_typ, str) or _bare_typ(header_typ) != _bare_typ(typ):
            raise JWTInvalid(f"typ {header_typ!r} where {typ!r} is required")
    else:
        accepted = {_bare_typ(t) for t in typ}
        if header_typ is None or header_typ == "":
            if "" not in accepted:
                raise JWTInvalid(f"a typ header is required (one of {sorted(typ)})")
        elif not isinstance(header_typ, str) or _bare_typ(header_typ) not in accepted - {""}:
            raise JWTInvalid(f"typ {header_typ!r} is not one of {sorted(typ)}")


def verify_jwt(
    token: str | CompactJWS,
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

    ``token`` may be the :class:`~deputy.jose.compact.CompactJWS` a caller already parsed (to pick
    keys by ``kid``), so that a token is parsed once.
    """
    jws = token if isinstance(token, CompactJWS) else parse_jws(token)
    header = jws.header
    alg = header["alg"]  # the parser guarantees a string
    if alg in FORBIDDEN_ALGORITHMS or alg not in algorithms:
        raise JWTInvalid(f"algorithm {alg!r} not allowed")
    kid = header.get("kid")  # the parser guarantees a string or None
    candidates: list[Key]
    if kid is not None:
        found = [k for k in keys.keys if k.dict_value.get("kid") == kid]
        if not found:
            raise JWTInvalid(f"unknown kid {kid!r}")
        key_alg = found[0].get("alg")
        if key_alg is not None and key_alg != alg:  # pin the algorithm per key (RS256 -> HS256 etc.)
            raise JWTInvalid(f"key {kid!r} is pinned to {key_alg}, token says {alg}")
        candidates = found[:1]
    else:
        # Without a kid (common for clients with one key), each key not pinned to another
        # algorithm is tried; there are only ever a handful.
        candidates = [k for k in keys.keys if k.get("alg") in (None, alg)]
    _check_typ(header.get("typ"), typ)
    for key in candidates:
        if signature_valid(jws, alg, key):
            break
    else:
        raise JWTInvalid("signature check failed" if candidates else "signature check failed: no usable key")
    claims = jws.claims
    for name in required:
        if name not in claims:
            raise JWTInvalid(f"missing claim {name!r}")
    for name in ("exp", "nbf", "iat"):
        if name in claims and type(claims[name]) is not int:  # a JSON integer (true is no number)
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
        iss = claims.get("iss")
        if not isinstance(iss, str) or (iss != issuer if isinstance(issuer, str) else iss not in issuer):
            raise JWTInvalid(f"issuer {iss!r} not accepted")
    if audience is not None and not _audience_matches(claims.get("aud"), audience):
        raise JWTInvalid(f"audience {claims.get('aud')!r} not accepted")
    return VerifiedJWT(header, claims)

