"""How the agent authenticates at a token endpoint: a client secret (RFC 6749 §2.3.1, Basic or
in the form) or ``private_key_jwt`` (RFC 7523 §2.2, OIDC Core §9).

A ``private_key_jwt`` assertion is made fresh for every request: a unique ``jti`` (servers
refuse a replayed one), ``aud`` the token endpoint it is sent to (so an assertion for the IdP is
useless at the resource AS and the other way round), a short lifetime, and the key's ``kid``.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey, import_key

from deputy.agent.errors import ConfigurationError
from deputy.constants import (
    AUTH_CLIENT_SECRET_BASIC,
    AUTH_CLIENT_SECRET_POST,
    AUTH_PRIVATE_KEY_JWT,
    CLIENT_ASSERTION_ALGORITHMS,
    CLIENT_ASSERTION_TYPE_JWT_BEARER,
)

__all__ = ["ClientAuth", "ClientSecret", "PrivateKeyJWT"]

ASSERTION_LIFETIME = 60


class ClientAuth(Protocol):
    """Adds the client's credentials to one token request."""

    @property
    def client_id(self) -> str: ...

    @property
    def method(self) -> str: ...

    def apply(self, token_endpoint: str, data: dict[str, str], headers: dict[str, str]) -> None: ...


@dataclass(frozen=True)
class ClientSecret:
    """``client_secret_basic`` (the default) or ``client_secret_post``."""

    client_id: str
    secret: str = field(repr=False)
    method: str = AUTH_CLIENT_SECRET_BASIC

    def __post_init__(self) -> None:
        if not self.client_id or not self.secret:
            raise ConfigurationError("a client secret needs client_id and secret")
        if self.method not in (AUTH_CLIENT_SECRET_BASIC, AUTH_CLIENT_SECRET_POST):
            raise ConfigurationError(f"client secret method must be client_secret_basic or _post, not {self.method!r}")

    def apply(self, token_endpoint: str, data: dict[str, str], headers: dict[str, str]) -> None:
        if self.method == AUTH_CLIENT_SECRET_POST:
            data["client_id"] = self.client_id
            data["client_secret"] = self.secret
            return
        # RFC 6749 §2.3.1: form-urlencode both parts before Basic encoding.
        pair = f"{quote(self.client_id, safe='')}:{quote(self.secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()


def _default_jti() -> str:
    return secrets.token_urlsafe(24)


class PrivateKeyJWT:
    """``private_key_jwt``: a signed assertion per request, from a private JWK or a PEM key.

    ``kid`` is required (the server picks the registered key by it); it is read from the JWK when
    not given. ``alg`` defaults to RS256 for RSA keys, ES256 for P-256, EdDSA for Ed25519.
    """

    method = AUTH_PRIVATE_KEY_JWT

    def __init__(
        self,
        client_id: str,
        key: Mapping[str, Any] | str | bytes,
        *,
        kid: str | None = None,
        alg: str | None = None,
        clock: Callable[[], float] = time.time,
        new_jti: Callable[[], str] = _default_jti,
    ) -> None:
        if not client_id:
            raise ConfigurationError("private_key_jwt needs a client_id")
        try:
            imported = import_key(dict(key)) if isinstance(key, Mapping) else _import_pem(key)
        except (ValueError, TypeError, JoseError) as exc:
            raise ConfigurationError(f"private_key_jwt key for {client_id!r} is unusable: {exc.__class__.__name__}") from None
        if not isinstance(imported, (RSAKey, ECKey, OKPKey)) or not imported.is_private:
            raise ConfigurationError(f"private_key_jwt for {client_id!r} needs a private RSA, EC or OKP key")
        kid = kid or imported.kid
        if not kid:
            raise ConfigurationError(f"private_key_jwt for {client_id!r} needs a kid (in the JWK or given)")
        alg = alg or _default_alg(imported)
        if alg not in CLIENT_ASSERTION_ALGORITHMS:
            raise ConfigurationError(f"alg {alg!r} is not one of {CLIENT_ASSERTION_ALGORITHMS}")
        self.client_id = client_id
        self.kid = kid
        self.alg = alg
        self._key = imported
        self._clock = clock
        self._new_jti = new_jti

    def __repr__(self) -> str:
        return f"PrivateKeyJWT(client_id={self.client_id!r}, kid={self.kid!r}, alg={self.alg!r})"

    def assertion(self, audience: str) -> str:
        """A fresh client assertion for the token endpoint ``audience``."""
        now = int(self._clock())
        claims = {
            "iss": self.client_id, "sub": self.client_id, "aud": audience,
            "iat": now, "exp": now + ASSERTION_LIFETIME, "jti": self._new_jti(),
        }
        return jwt.encode({"alg": self.alg, "kid": self.kid, "typ": "JWT"}, claims, self._key, algorithms=[self.alg])

    def apply(self, token_endpoint: str, data: dict[str, str], headers: dict[str, str]) -> None:
        data["client_id"] = self.client_id
        data["client_assertion_type"] = CLIENT_ASSERTION_TYPE_JWT_BEARER
        data["client_assertion"] = self.assertion(token_endpoint)


def _import_pem(pem: str | bytes) -> Any:
    raw = pem.encode() if isinstance(pem, str) else pem
    for cls in (RSAKey, ECKey, OKPKey):
        try:
            return cls.import_key(raw)
        except (ValueError, TypeError, JoseError):
            continue
    raise ValueError("not a PEM private key")


def _default_alg(key: Any) -> str:
    if isinstance(key, RSAKey):
        return "RS256"
    if isinstance(key, ECKey):
        return {"P-256": "ES256", "P-384": "ES384"}.get(str(key.curve_name), "ES256")
    return "EdDSA"
