"""The only package that imports the JOSE library: key ring, signing and strict verification."""

from __future__ import annotations

from deputy.jose.keys import KeyRing, StoredKey, generate_key, thumbprint
from deputy.jose.verify import JWTInvalid, VerifiedJWT, peek_claims, verify_jwt

__all__ = [
    "JWTInvalid",
    "KeyRing",
    "StoredKey",
    "VerifiedJWT",
    "generate_key",
    "peek_claims",
    "thumbprint",
    "verify_jwt",
]
