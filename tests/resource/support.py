"""A fake authorization server for the resource SDK's tests: its own keys (made with joserfc),
its RFC 8414 metadata, JWKS and introspection endpoint, served in-process through
``httpx.MockTransport``; it counts what it served so that tests see every fetch."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from deputy.clock import FixedClock
from deputy.jose import thumbprint
from deputy.resource import DPoPSettings, Introspection, TokenVerifier, access_token_hash

ISSUER = "https://as.example"
RESOURCE = "https://api.example"
API_URL = "https://api.example/incidents"
DISCOVERY = "https://as.example/.well-known/oauth-authorization-server"
JWKS = "https://as.example/jwks"
INTROSPECT = "https://as.example/introspect"
START = 1_800_000_000

Key = ECKey | RSAKey


def new_key(alg: str = "ES256", kid: str | None = None) -> Key:
    kid = kid or f"{alg.lower()}-{secrets.token_hex(4)}"
    if alg.startswith("ES"):
        return ECKey.generate_key("P-256", parameters={"kid": kid, "alg": alg, "use": "sig"}, private=True)
    return RSAKey.generate_key(2048, parameters={"kid": kid, "alg": alg, "use": "sig"}, private=True)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_jwt(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A compact JWS that joserfc would refuse to produce (alg none, forged signatures)."""
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    c = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{h}.{c}.{b64url(signature)}"


class FakeAS:
    """The authorization server. ``published`` is its JWKS; ``signing`` signs by default."""

    _rsa: RSAKey | None = None  # one RSA key per test run: generating them is slow

    def __init__(self, clock: FixedClock) -> None:
        self.clock = clock
        if FakeAS._rsa is None:
            FakeAS._rsa = RSAKey.generate_key(2048, parameters={"kid": "rs-1", "alg": "RS256", "use": "sig"}, private=True)
        self.es = new_key("ES256", "es-1")
        self.rs: RSAKey = FakeAS._rsa
        self.published: list[Key] = [self.es, self.rs]
        self.metadata_issuer = ISSUER
        self.jwks_fetches = 0
        self.discovery_fetches = 0
        self.introspected: list[httpx.Request] = []
        self.introspection: Callable[[str], dict[str, Any]] = lambda token: {"active": True}
        self.status = 200  # set to 503 to take the server "down"

    # -- tokens --------------------------------------------------------------------------------

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = self.clock.now()
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": "jane",
            "aud": RESOURCE,
            "client_id": "incident-agent",
            "scope": "incidents:read incidents:write",
            "jti": secrets.token_urlsafe(12),
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "act": {"sub": "incident-agent"},
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, *, key: Key | None = None, typ: str | None = "at+jwt", header: dict[str, Any] | None = None,
              **claims: Any) -> str:
        key = key or self.es
        alg = str(key.alg)
        hdr: dict[str, Any] = {"alg": alg, "kid": key.kid}
        if typ is not None:
            hdr["typ"] = typ
        hdr.update(header or {})
        return jwt.encode(hdr, self.claims(**claims), key, algorithms=[hdr["alg"]])

    # -- the endpoints ----------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        return {"issuer": self.metadata_issuer, "jwks_uri": JWKS, "introspection_endpoint": INTROSPECT}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.as_dict(private=False) for k in self.published]}

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.status != 200:
            return httpx.Response(self.status)
        url = str(request.url)
        if url == DISCOVERY and request.method == "GET":
            self.discovery_fetches += 1
            return httpx.Response(200, json=self.metadata())
        if url == JWKS and request.method == "GET":
            self.jwks_fetches += 1
            return httpx.Response(200, json=self.jwks())
        if url == INTROSPECT and request.method == "POST":
            self.introspected.append(request)
            form = dict(parse_qsl(request.content.decode()))
            return httpx.Response(200, json=self.introspection(form["token"]))
        return httpx.Response(404)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def verifier(self, **kwargs: Any) -> TokenVerifier:
        kwargs.setdefault("clock", self.clock)
        kwargs.setdefault("http_client", httpx.Client(transport=self.transport()))
        kwargs.setdefault("async_http_client", httpx.AsyncClient(transport=self.transport()))
        return TokenVerifier(ISSUER, RESOURCE, **kwargs)

    def introspecting_verifier(self, **kwargs: Any) -> TokenVerifier:
        return self.verifier(introspection=Introspection("api-client", "api-secret"), **kwargs)


# -- DPoP ------------------------------------------------------------------------------------

def dpop_key() -> ECKey:
    return ECKey.generate_key("P-256", private=True)


def jkt(key: Key) -> str:
    return thumbprint(key.as_dict(private=False))


def proof(
    key: Key,
    token: str,
    *,
    now: int,
    method: str = "GET",
    url: str = API_URL,
    typ: str = "dpop+jwt",
    alg: str = "ES256",
    header: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    hdr: dict[str, Any] = {"typ": typ, "alg": alg, "jwk": key.as_dict(private=False)}
    hdr.update(header or {})
    hdr = {k: v for k, v in hdr.items() if v is not None}
    body: dict[str, Any] = {
        "jti": secrets.token_urlsafe(16),
        "htm": method,
        "htu": url,
        "iat": now,
        "ath": access_token_hash(token),
    }
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(hdr, body, key, algorithms=[alg])


def dpop_settings(**kwargs: Any) -> DPoPSettings:
    return DPoPSettings(**kwargs)
