"""DPoP proofs at a resource server (RFC 9449 §4.3, §7.1): the proof is checked completely or
refused with ``invalid_dpop_proof``.

Checks, in order: an asymmetric algorithm from the allow-list; ``typ`` dpop+jwt; the required
claims; a ``jwk`` header holding a public key only; the signature by that key; ``htm`` equal to
the request method; ``htu`` equal to the request URI, ignoring query and fragment; ``iat`` within
the accepted window; ``ath`` equal to base64url(SHA-256(access token)); the key's RFC 7638 thumbprint equal to
the token's ``cnf.jkt``; and last, the ``jti`` not seen before (so that invalid proofs cannot fill
the replay cache).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from joserfc import jws
from joserfc.errors import JoseError

from deputy.constants import TYP_DPOP
from deputy.jose import JWTInvalid, KeySet, import_public_jwks, peek_claims, thumbprint
from deputy.resource.errors import InvalidDPoPProof

__all__ = [
    "DEFAULT_DPOP_ALGORITHMS",
    "DPoPSettings",
    "MemoryReplayCache",
    "ReplayCache",
    "access_token_hash",
    "same_htu",
    "verify_proof",
]

DEFAULT_DPOP_ALGORITHMS = ("ES256", "ES384", "PS256", "RS256", "Ed25519")  # not "EdDSA": RFC 9864 deprecates it
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"}
)
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_PROOF_BYTES = 8 * 1024


class _ProofRegistry(jws.JWSRegistry):
    # A proof's header carries its public key: an RSA jwk alone is larger than joserfc's default
    # 512-byte header limit. The signature is checked here rather than by deputy.jose.verify_jwt
    # for that reason only; every other check is below.
    max_header_length = 4096
    max_payload_length = 4096


class ReplayCache(Protocol):
    """Remembers proof ``jti`` values until they expire. Share one across processes (e.g. in
    Redis) when several processes serve the same resource."""

    def mark_used(self, key: str, expires_at: int, now: int) -> bool:
        """Record ``key``; False if it was already recorded and has not expired (a replay)."""
        ...


class MemoryReplayCache:
    """An in-process, thread-safe, bounded :class:`ReplayCache`.

    When full of unexpired entries it refuses new proofs rather than forget old ones (forgetting
    would let a recent proof be replayed): size it above the proofs expected per window.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self._capacity = capacity
        self._entries: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def mark_used(self, key: str, expires_at: int, now: int) -> bool:
        with self._lock:
            self._purge(now)
            seen = self._entries.get(key)
            if seen is not None and seen > now:
                return False
            if len(self._entries) >= self._capacity:
                return False
            self._entries[key] = expires_at
            self._entries.move_to_end(key)
            return True

    def _purge(self, now: int) -> None:
        # Entries are added with nearly monotonic expiry times: drop from the old end while expired,
        # and sweep everything when the cache is full (expiry order can differ by the leeway).
        while self._entries:
            key, expires_at = next(iter(self._entries.items()))
            if expires_at > now:
                break
            del self._entries[key]
        if len(self._entries) >= self._capacity:
            for key in [k for k, exp in self._entries.items() if exp <= now]:
                del self._entries[key]


@dataclass(frozen=True)
class DPoPSettings:
    """How a resource treats DPoP (RFC 9449).

    ``enabled`` False refuses the DPoP scheme and every DPoP-bound token (their binding cannot be
    honoured); ``required`` True refuses tokens that are not DPoP-bound. ``max_age`` is how old a
    proof's ``iat`` may be; proofs from the future are refused beyond the verifier's leeway.
    """

    enabled: bool = True
    required: bool = False
    algorithms: Sequence[str] = DEFAULT_DPOP_ALGORITHMS
    max_age: int = 60
    replay_cache: ReplayCache = field(default_factory=MemoryReplayCache)

    def __post_init__(self) -> None:
        bad = [a for a in self.algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if bad or not self.algorithms:
            raise ValueError(f"DPoP algorithms must be asymmetric signature algorithms, not {bad}")
        if not 1 <= self.max_age <= 600:
            raise ValueError("DPoP max_age must be between 1 and 600 seconds")
        if self.required and not self.enabled:
            raise ValueError("DPoP cannot be required when it is disabled")


def access_token_hash(token: str) -> str:
    """``ath`` (RFC 9449 §4.2): base64url of the SHA-256 of the token's ASCII, no padding."""
    digest = hashlib.sha256(token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _origin_and_path(uri: str) -> tuple[str, str, int | None, str] | None:
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not scheme or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS.get(scheme), parts.path or "/"


def same_htu(htu: str, request_url: str) -> bool:
    """RFC 9449 §4.3 check 9: the URIs match ignoring query and fragment (scheme and host compare
    case-insensitively and a default port equals no port, RFC 3986 §6.2.2-§6.2.3)."""
    a, b = _origin_and_path(htu), _origin_and_path(request_url)
    return a is not None and a == b


def _proof_key(header: Mapping[str, Any]) -> KeySet:
    jwk = header.get("jwk")
    if not isinstance(jwk, Mapping):
        raise InvalidDPoPProof("proof has no jwk header")
    if _PRIVATE_MEMBERS & set(jwk):
        raise InvalidDPoPProof("proof jwk holds private or symmetric key material")
    try:
        keys = import_public_jwks({"keys": [dict(jwk)]})
    except ValueError:
        raise InvalidDPoPProof("proof jwk is unusable") from None
    if len(keys.keys) != 1:
        raise InvalidDPoPProof("proof jwk is not a public asymmetric signature key")
    return keys


def _check_typ_and_times(header: Mapping[str, Any], claims: Mapping[str, Any], *, now: int, leeway: int) -> None:
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower().removeprefix("application/") != TYP_DPOP:
        raise InvalidDPoPProof(f"proof typ {typ!r} where {TYP_DPOP!r} is required")
    for name in ("jti", "htm", "htu", "iat"):
        if name not in claims:
            raise InvalidDPoPProof(f"proof has no {name!r} claim")
    iat = claims["iat"]
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise InvalidDPoPProof("proof iat is not an integer")
    if iat - leeway > now:
        raise InvalidDPoPProof("proof issued in the future")


def _check_signature(proof: str, keys: KeySet, alg: str) -> None:
    try:
        jws.deserialize_compact(proof, keys.keys[0], registry=_ProofRegistry(algorithms=[alg]))
    except (JoseError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidDPoPProof(f"proof signature check failed: {exc.__class__.__name__}") from None


def verify_proof(
    proof: str,
    *,
    access_token: str,
    jkt: str,
    method: str,
    url: str,
    now: int,
    leeway: int,
    settings: DPoPSettings,
) -> Mapping[str, Any]:
    """Check ``proof`` for a request to ``method`` ``url`` carrying ``access_token`` bound to
    ``jkt``; return its claims or raise :class:`InvalidDPoPProof` (detail says why)."""
    if len(proof) > MAX_PROOF_BYTES:
        raise InvalidDPoPProof("proof too large")
    try:
        header, claims = peek_claims(proof)
    except JWTInvalid as exc:
        raise InvalidDPoPProof(f"proof: {exc}") from None
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in settings.algorithms:
        raise InvalidDPoPProof(f"proof algorithm {alg!r} not accepted")
    _check_typ_and_times(header, claims, now=now, leeway=leeway)
    keys = _proof_key(header)
    _check_signature(proof, keys, alg)  # from here on, header and claims are the signed ones
    jti = claims["jti"]
    if not isinstance(jti, str) or not 1 <= len(jti) <= 256:
        raise InvalidDPoPProof("proof jti must be a string of 1 to 256 characters")
    if claims["htm"] != method:
        raise InvalidDPoPProof(f"proof htm {claims['htm']!r} is not the request method {method!r}")
    if not isinstance(claims["htu"], str) or not same_htu(claims["htu"], url):
        raise InvalidDPoPProof("proof htu is not the request URI")
    if now - claims["iat"] > settings.max_age:
        raise InvalidDPoPProof(f"proof issued {now - claims['iat']} s ago, more than {settings.max_age} s")
    ath = claims.get("ath")
    if not isinstance(ath, str) or not hmac.compare_digest(ath.encode(), access_token_hash(access_token).encode()):
        raise InvalidDPoPProof("proof ath does not match the access token")
    actual = thumbprint(keys.keys[0].as_dict(private=False))
    if not hmac.compare_digest(actual.encode(), jkt.encode()):
        raise InvalidDPoPProof("proof key is not the key the token is bound to (cnf.jkt)")
    # Replay (§11.1): remembered until the proof could no longer pass the iat window anyway.
    if not settings.replay_cache.mark_used(f"{jkt}:{jti}", claims["iat"] + settings.max_age + leeway, now):
        raise InvalidDPoPProof("proof jti already used (replay)")
    return claims
