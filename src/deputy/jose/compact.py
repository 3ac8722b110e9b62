"""A compact JWS (RFC 7515 §7.1) parsed once, strictly, and its signature checked with ``cryptography``.

joserfc still imports the keys (JWKs into key objects); the signature check is done here because
joserfc's ``jwt.decode`` costs about 30 % of the raw ES256 verify on top of it (it parses the token
again, walks its registries, converts the key per call), and the resource SDK's verification had to
reach 80 % of the raw rate (issue #8, docs/performance.md). What is left is small: a strict parser,
one table of algorithms, and the conversion of JOSE's fixed-size ``r || s`` signature (RFC 7518
§3.4) to the DER that ``cryptography`` expects.

Strict means: exactly three segments of unpadded, canonical base64url (RFC 7515 §2, RFC
4648 §3.5: no ``=``, no other alphabet, no stray bits in the last character, so one token has one
spelling); a header that is a UTF-8 JSON object without duplicate names, with a string ``alg``,
the registered parameters of the right JSON types, and no ``crit`` (Deputy implements no
extension, RFC 7515 §4.1.11) nor ``b64`` (RFC 7797); a claims set that is a JSON object.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey

__all__ = ["MAX_JWT_BYTES", "SIGNATURE_ALGORITHMS", "CompactJWS", "JWTInvalid", "parse_jws", "signature_valid"]

MAX_JWT_BYTES = 16 * 1024


class JWTInvalid(Exception):
    """The JWT failed verification; the message is private detail for logs and audit."""


class CompactJWS(NamedTuple):
    """A parsed, NOT yet verified, compact JWS. The header is read-only (it may be shared)."""

    header: Mapping[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


_NOT_COMPACT = "not a compact JWS: three unpadded base64url segments"
# base64url to the standard alphabet that binascii decodes; the standard alphabet's own "+", "/" and
# the padding "=" become "!", which the strict decoder refuses like any other character outside the
# alphabet (whitespace, ".", non-base64): one translation checks and converts the three segments.
_TO_STANDARD = bytes.maketrans(b"-_+/=", b"+/!!!")
# The last character of a segment whose length is 2 or 3 (mod 4) carries 4 or 2 unused bits; they
# must be zero, or "...Q" and "...R" would decode alike (and a changed token would still verify).
_CANONICAL_LAST = {0: None, 2: frozenset(b"AQgw"), 3: frozenset(b"AEIMQUYcgkosw048")}
# RFC 7515 §4.1 registered header parameters and the JSON type each must have.
_HEADER_TYPES: dict[str, type] = {
    "alg": str, "kid": str, "typ": str, "cty": str, "jku": str, "x5u": str, "x5t": str, "x5t#S256": str,
    "jwk": dict, "x5c": list,
}
_REFUSED_HEADERS = ("crit", "b64")


def _b64(segment: bytes) -> bytes:
    """Decode one segment translated by ``_TO_STANDARD``: canonical base64url only."""
    rest = len(segment) % 4
    try:
        decoded = binascii.a2b_base64(segment + b"=" * (-rest % 4), strict_mode=True)
    except binascii.Error:  # a character outside base64url, or a length of 1 (mod 4)
        raise JWTInvalid(_NOT_COMPACT) from None
    allowed = _CANONICAL_LAST[rest]
    if allowed is not None and segment[-1] not in allowed:
        raise JWTInvalid("not canonical base64url")
    return decoded


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):  # RFC 7515 §5.2: reject, rather than guess which one counts
        raise JWTInvalid("duplicate header parameter")
    return value


# Built once: json.loads with options builds a decoder per call.
_HEADER_JSON = json.JSONDecoder(parse_constant=_no_constants, object_pairs_hook=_unique)
_CLAIMS_JSON = json.JSONDecoder(parse_constant=_no_constants)


def _json_object(data: bytes, what: str, decoder: json.JSONDecoder) -> dict[str, Any]:
    try:
        value = decoder.decode(data.decode("utf-8"))  # UTF-8 only (json.loads would guess UTF-16/32)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise JWTInvalid(f"{what} is not UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise JWTInvalid(f"{what} is not a JSON object")
    return value


# Parsed headers by their encoding: an issuer's tokens share a handful ({"alg","typ","kid"}), and
# parsing one is a fifth of the work besides the signature. Only headers of string values are kept
# (nothing mutable is shared); bounded, and emptied when full.
_HEADERS: dict[bytes, Mapping[str, Any]] = {}
_MAX_HEADERS = 256


def _header(segment: bytes) -> Mapping[str, Any]:
    cached = _HEADERS.get(segment)
    if cached is not None:
        return cached
    header = _json_object(_b64(segment), "header", _HEADER_JSON)
    for name, value in header.items():
        expected = _HEADER_TYPES.get(name)
        if expected is not None and not isinstance(value, expected):
            raise JWTInvalid(f"header parameter {name!r} is not a JSON {expected.__name__}")
        if name in _REFUSED_HEADERS:
            raise JWTInvalid(f"header parameter {name!r} is not supported")
    if "alg" not in header:
        raise JWTInvalid("no alg in the header")
    if not all(type(value) is str for value in header.values()):
        return header
    if len(_HEADERS) >= _MAX_HEADERS:
        _HEADERS.clear()
    shared = _HEADERS[segment] = MappingProxyType(header)
    return shared


def parse_jws(token: str) -> CompactJWS:
    """Parse ``token`` strictly (see the module docstring) or raise :class:`JWTInvalid`.

    Nothing is verified: use ``verify_jwt`` (which accepts the result, so a token is parsed once).
    """
    if len(token) > MAX_JWT_BYTES:
        raise JWTInvalid("token too large")
    if not token.isascii() or token.count(".") != 2:
        raise JWTInvalid(_NOT_COMPACT)
    data = token.encode("ascii")
    header_segment, claims_segment, signature_segment = data.translate(_TO_STANDARD).split(b".")
    # The signature may be empty here (an unsecured JWS, RFC 7519 §6) only to be refused by name:
    # "none" is never an allowed algorithm, and no signature check accepts an empty signature.
    if not header_segment or not claims_segment:
        raise JWTInvalid(_NOT_COMPACT)
    header = _header(header_segment)
    # RFC 7519 §4: of duplicate claim names, the last one counts
    claims = _json_object(_b64(claims_segment), "claims", _CLAIMS_JSON)
    signing_input = data[: len(header_segment) + 1 + len(claims_segment)]
    return CompactJWS(header, claims, signing_input, _b64(signature_segment))


# -- signatures ---------------------------------------------------------------------------------

# alg -> (curve, signature algorithm, size of r and of s in bytes, group order n: r and s must be in
# [1, n - 1], SEC 1 §4.1.4; OpenSSL checks it too, this says it where it is decided)
_ECDSA: dict[str, tuple[type[ec.EllipticCurve], ec.ECDSA, int, int]] = {
    "ES256": (ec.SECP256R1, ec.ECDSA(hashes.SHA256()), 32,
              0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551),
    "ES384": (ec.SECP384R1, ec.ECDSA(hashes.SHA384()), 48,
              0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973),
    "ES512": (ec.SECP521R1, ec.ECDSA(hashes.SHA512()), 66,
              0x01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409),
}
_RSA: dict[str, tuple[type[hashes.HashAlgorithm], bool]] = {  # alg -> (hash, PSS)
    "RS256": (hashes.SHA256, False), "RS384": (hashes.SHA384, False), "RS512": (hashes.SHA512, False),
    "PS256": (hashes.SHA256, True), "PS384": (hashes.SHA384, True), "PS512": (hashes.SHA512, True),
}
_EDDSA: dict[str, tuple[type, ...]] = {"EdDSA": (Ed25519PublicKey, Ed448PublicKey), "Ed25519": (Ed25519PublicKey,)}
SIGNATURE_ALGORITHMS = frozenset(_ECDSA) | frozenset(_RSA) | frozenset(_EDDSA)


def signature_valid(jws: CompactJWS, alg: str, key: Key) -> bool:
    """True when ``jws`` carries a valid ``alg`` signature by ``key``; False for any mismatch
    (an algorithm that is not an asymmetric signature, a key of another type or curve, a signature
    of the wrong length or out of range, a key whose ``use`` or ``key_ops`` excludes verifying,
    RFC 7517 §4.2-4.3)."""
    jwk = key.dict_value  # the key's JWK members, read once
    if jwk.get("use") not in (None, "sig") or ((ops := jwk.get("key_ops")) is not None and "verify" not in ops):
        return False
    if alg in _ECDSA:
        if not isinstance(key, ECKey):
            return False
        curve, ecdsa, size, order = _ECDSA[alg]
        public = key.public_key
        signature = jws.signature
        if not isinstance(public.curve, curve) or len(signature) != 2 * size:
            return False
        r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        if not (0 < r < order and 0 < s < order):
            return False
        try:
            # JOSE's r || s (RFC 7518 §3.4) as the DER SEQUENCE that cryptography verifies
            public.verify(encode_dss_signature(r, s), jws.signing_input, ecdsa)
        except InvalidSignature:
            return False
        return True
    if alg in _RSA:
        if not isinstance(key, RSAKey) or not isinstance(key.public_key, RSAPublicKey):
            return False
        rsa_hash, pss = _RSA[alg][0](), _RSA[alg][1]
        # RFC 7518 §3.5: the salt is as long as the hash output
        scheme = padding.PSS(mgf=padding.MGF1(rsa_hash), salt_length=rsa_hash.digest_size) if pss else padding.PKCS1v15()
        try:
            key.public_key.verify(jws.signature, jws.signing_input, scheme, rsa_hash)
        except InvalidSignature:
            return False
        return True
    if alg in _EDDSA:
        edwards = key.public_key if isinstance(key, OKPKey) else None
        if not isinstance(edwards, _EDDSA[alg]) or not isinstance(edwards, (Ed25519PublicKey, Ed448PublicKey)):
            return False
        try:
            edwards.verify(jws.signature, jws.signing_input)
        except InvalidSignature:
            return False
        return True
    return False
