"""Signing keys: generation, the key ring used to sign, and the public JWKS.

Rotation keeps the previous key published (``retiring``) for an overlap window so that tokens it
signed still verify at resource servers that cache the JWKS.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import ECKey, KeyParameters, KeySet, RSAKey, import_key

from deputy.constants import ALG_ES256, ALG_RS256
from deputy.jose.signing import sign_compact

__all__ = ["KeyRing", "StoredKey", "generate_key", "thumbprint"]

JWK = ECKey | RSAKey


@dataclass(frozen=True)
class StoredKey:
    kid: str
    alg: str
    private_jwk: Mapping[str, Any]
    created_at: int
    # None while active; the time after which a retiring key is no longer published.
    retire_at: int | None = None

    def __repr__(self) -> str:  # never print private key material
        return f"StoredKey(kid={self.kid!r}, alg={self.alg!r}, retire_at={self.retire_at!r})"


def generate_key(alg: str, now: int) -> StoredKey:
    kid = f"{alg.lower()}-{now}-{secrets.token_hex(4)}"
    params: KeyParameters = {"kid": kid, "alg": alg, "use": "sig"}
    key: JWK
    if alg == ALG_ES256:
        key = ECKey.generate_key("P-256", parameters=params, private=True)
    elif alg == ALG_RS256:
        key = RSAKey.generate_key(2048, parameters=params, private=True)
    else:
        raise ValueError(f"unsupported signing algorithm {alg!r}")
    return StoredKey(kid=kid, alg=alg, private_jwk=key.as_dict(private=True), created_at=now)


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 thumbprint of a public JWK."""
    return str(import_key(dict(jwk)).thumbprint())


class KeyRing:
    """The server's signing keys. Immutable; the storage layer builds a new one on change."""

    def __init__(self, keys: Iterable[StoredKey], now: int) -> None:
        self._keys = [k for k in keys if k.retire_at is None or k.retire_at > now]
        self._imported: dict[str, JWK] = {}
        for stored in self._keys:
            imported = import_key(dict(stored.private_jwk))
            if not isinstance(imported, (ECKey, RSAKey)):
                raise ValueError(f"key {stored.kid} is not an EC or RSA key")
            self._imported[stored.kid] = imported
        self._active: dict[str, StoredKey] = {}
        for stored in sorted(self._keys, key=lambda k: k.created_at):
            if stored.retire_at is None:
                self._active[stored.alg] = stored  # the newest active key per algorithm wins
        self._public_keyset = KeySet([self._public(k) for k in self._imported.values()])

    @staticmethod
    def _public(key: JWK) -> JWK:
        public = import_key(key.as_dict(private=False))
        assert isinstance(public, (ECKey, RSAKey))  # noqa: S101 - narrowing for mypy only
        return public

    @property
    def algorithms(self) -> frozenset[str]:
        return frozenset(self._active)

    def active_kid(self, alg: str) -> str:
        return self._active[alg].kid

    def sign(self, claims: Mapping[str, Any], *, typ: str, alg: str = ALG_ES256) -> str:
        stored = self._active.get(alg)
        if stored is None:
            raise LookupError(f"no active {alg} signing key")
        return sign_compact({"typ": typ, "alg": alg, "kid": stored.kid}, claims, self._imported[stored.kid])

    def public_jwks(self) -> dict[str, Any]:
        return {"keys": [self._imported[k.kid].as_dict(private=False) for k in self._keys]}

    @property
    def verification_keys(self) -> KeySet:
        return self._public_keyset

    def to_json(self) -> str:
        return json.dumps(self.public_jwks())
