"""Reading another issuer's published JWKS (RFC 7517 §5) into verification keys, defensively.

Only public asymmetric signature keys are kept: a symmetric (``oct``) key in a published set
would let anyone who read it forge tokens, and private parameters have no business there.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, KeySet, OKPKey, RSAKey, import_key

__all__ = ["import_public_jwks"]

MIN_RSA_BITS = 2048
MAX_KEYS = 100
_ASYMMETRIC = frozenset({"RSA", "EC", "OKP"})
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})


def _usable(item: Mapping[str, Any]) -> bool:
    if item.get("kty") not in _ASYMMETRIC:
        return False
    if item.get("use", "sig") != "sig":  # RFC 7517 §4.2: "enc" keys never verify signatures
        return False
    if item.get("kty") == "OKP" and item.get("crv") not in ("Ed25519", "Ed448"):
        return False  # X25519/X448 are key agreement keys
    if item.get("kty") == "RSA" and _rsa_bits(item.get("n")) < MIN_RSA_BITS:
        return False
    ops = item.get("key_ops")
    return ops is None or (isinstance(ops, list) and "verify" in ops)


def _rsa_bits(n: object) -> int:
    if not isinstance(n, str):
        return 0
    try:
        return int.from_bytes(base64.urlsafe_b64decode(n + "=" * (-len(n) % 4)), "big").bit_length()
    except ValueError:
        return 0


def import_public_jwks(document: Mapping[str, Any]) -> KeySet:
    """The usable signature keys of a JWKS document; keys that cannot be used are skipped.

    Raises ``ValueError`` when the document is not a JWKS at all. An empty result is possible
    (the caller decides whether that is an error).
    """
    items = document.get("keys")
    if not isinstance(items, list):
        raise ValueError("not a JWKS: no 'keys' list")
    keys: list[Key] = []
    seen: set[str] = set()
    for item in items[:MAX_KEYS]:
        if not isinstance(item, Mapping) or not _usable(item):
            continue
        public = {k: v for k, v in item.items() if k not in _PRIVATE_MEMBERS}
        try:
            key = import_key(public)
        except (JoseError, ValueError, TypeError, KeyError):
            continue
        if not isinstance(key, (RSAKey, ECKey, OKPKey)):
            continue
        kid = item.get("kid")
        if isinstance(kid, str):
            if kid in seen:  # a duplicated kid would make key selection ambiguous
                continue
            seen.add(kid)
        keys.append(key)
    return KeySet(keys)
