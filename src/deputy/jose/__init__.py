"""The only package that imports the JOSE library: key ring, signing and strict verification."""

from __future__ import annotations

from joserfc.jwk import KeySet

from deputy.jose.compact import CompactJWS, parse_jws
from deputy.jose.jwks import import_public_jwks
from deputy.jose.keys import KeyRing, StoredKey, generate_key, thumbprint
from deputy.jose.verify import JWTInvalid, VerifiedJWT, peek_claims, verify_jwt

__all__ = [
    "CompactJWS",
    "JWTInvalid",
    "KeyRing",
    "KeySet",
    "StoredKey",
    "VerifiedJWT",
    "generate_key",
    "import_public_jwks",
    "parse_jws",
    "peek_claims",
    "thumbprint",
    "verify_jwt",
]
