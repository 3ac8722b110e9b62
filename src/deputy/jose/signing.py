"""Signing a compact JWS (RFC 7515 §7.1) with ``cryptography``: the counterpart of
:mod:`deputy.jose.compact`, for the algorithms Deputy issues (ES256, RS256).

joserfc's ``jwt.encode`` spent about as long around the signature as the ES256 signature itself
(header registry checks, per-call algorithm objects, a second JSON pass); every token the server
issues goes through here. The output is the same as joserfc's: header and claims as compact JSON
(claims with ``ensure_ascii=False``, as joserfc), unpadded base64url, and for ECDSA the DER
signature converted to JOSE's fixed-size ``r || s`` (RFC 7518 §3.4). Tests check each token
against joserfc's own verification.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc.jwk import ECKey, RSAKey

__all__ = ["SIGNING_ALGORITHMS", "sign_compact"]

_ES256 = ec.ECDSA(hashes.SHA256())
_SHA256 = hashes.SHA256()
_PKCS1 = padding.PKCS1v15()
_HEADER_JSON = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))
_CLAIMS_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
SIGNING_ALGORITHMS = frozenset({"ES256", "RS256"})


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def sign_compact(header: Mapping[str, Any], claims: Mapping[str, Any], key: ECKey | RSAKey) -> str:
    """``header`` must name ``alg`` (ES256 with a P-256 key, or RS256 with an RSA key); raises
    ValueError for anything else (never signs with a key of the wrong kind)."""
    alg = header.get("alg")
    signing_input = (
        _b64(_HEADER_JSON.encode(dict(header)).encode("ascii")) + b"." + _b64(_CLAIMS_JSON.encode(claims).encode("utf-8"))
    )
    private = key.private_key
    if alg == "ES256" and isinstance(private, ec.EllipticCurvePrivateKey) and isinstance(private.curve, ec.SECP256R1):
        r, s = decode_dss_signature(private.sign(signing_input, _ES256))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    elif alg == "RS256" and isinstance(private, rsa.RSAPrivateKey):
        signature = private.sign(signing_input, _PKCS1, _SHA256)
    else:
        raise ValueError(f"cannot sign {alg!r} with a {type(key).__name__}")
    return (signing_input + b"." + _b64(signature)).decode("ascii")
