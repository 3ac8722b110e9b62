"""A second, independent OpenID provider for tests: its own keys (made with joserfc), its own
discovery document and JWKS, and tokens it signs for its users.

It is served either over real HTTP (``app()``, a Starlette app run by uvicorn in the e2e tests)
or in-process through an httpx transport (``transport()``), and counts what it served so that
tests can see when Deputy fetched keys.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/jwks"

Key = ECKey | RSAKey


def new_key(alg: str, kid: str | None = None) -> Key:
    kid = kid or f"{alg.lower()}-{secrets.token_hex(4)}"
    if alg.startswith("ES"):
        return ECKey.generate_key("P-256", parameters={"kid": kid, "alg": alg, "use": "sig"}, private=True)
    return RSAKey.generate_key(2048, parameters={"kid": kid, "alg": alg, "use": "sig"}, private=True)


class FakeIssuer:
    def __init__(self, issuer: str, *, alg: str = "ES256", now: Callable[[], int] | None = None) -> None:
        self.issuer = issuer.rstrip("/")
        self.now = now or (lambda: int(time.time()))
        self.published: list[Key] = [new_key(alg)]  # the JWKS, newest last
        self.signing: Key = self.published[0]
        self.jwks_fetches = 0
        self.discovery_fetches = 0
        self.discovery_issuer: str | None = None  # set to lie about the issuer in discovery
        self.down = False  # answer 503 to everything

    # -- what it publishes ---------------------------------------------------------------------
    @property
    def discovery_url(self) -> str:
        return self.issuer + DISCOVERY_PATH

    @property
    def jwks_uri(self) -> str:
        return self.issuer + JWKS_PATH

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.discovery_issuer or self.issuer,
            "jwks_uri": self.jwks_uri,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "id_token_signing_alg_values_supported": sorted({str(k.alg) for k in self.published}),
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.as_dict(private=False) for k in self.published]}

    def rotate(self, alg: str = "ES256", *, keep_old: bool = True) -> str:
        """Sign with a new key from now on; returns its kid."""
        key = new_key(alg)
        self.published = [*self.published, key] if keep_old else [key]
        self.signing = key
        return str(key.kid)

    # -- tokens ---------------------------------------------------------------------------------
    def claims(self, sub: str = "jane", aud: str | list[str] = "api://incident-agent", **extra: Any) -> dict[str, Any]:
        now = self.now()
        claims: dict[str, Any] = {
            "iss": self.issuer, "sub": sub, "aud": aud, "iat": now, "nbf": now, "exp": now + 600,
            "jti": secrets.token_hex(8),
        }
        claims.update(extra)
        return {k: v for k, v in claims.items() if v is not None}

    def mint(
        self, claims: dict[str, Any] | None = None, *, typ: str | None = "JWT", key: Key | None = None,
        header: dict[str, Any] | None = None, **claim_args: Any,
    ) -> str:
        key = key or self.signing
        alg = str(key.alg)
        hdr: dict[str, Any] = {"alg": alg, "kid": key.kid}
        if typ is not None:
            hdr["typ"] = typ
        hdr.update(header or {})
        body = claims if claims is not None else self.claims(**claim_args)
        return jwt.encode(hdr, body, key, algorithms=[hdr["alg"]], default_type=None)

    # -- serving --------------------------------------------------------------------------------
    def _answer(self, path: str) -> tuple[int, dict[str, Any]]:
        path = path.removeprefix(urlsplit(self.issuer).path)
        if self.down:
            return 503, {"error": "down"}
        if path == DISCOVERY_PATH:
            self.discovery_fetches += 1
            return 200, self.discovery()
        if path == JWKS_PATH:
            self.jwks_fetches += 1
            return 200, self.jwks()
        return 404, {"error": "not_found"}

    def transport(self) -> httpx.MockTransport:
        """In-process HTTP for the key fetcher (no sockets): answers for this issuer's URLs."""

        def handle(request: httpx.Request) -> httpx.Response:
            status, body = self._answer(request.url.path)
            return httpx.Response(status, json=body)

        return httpx.MockTransport(handle)

    def app(self) -> Starlette:
        async def serve(request: Request) -> Response:
            status, body = self._answer(request.url.path)
            return JSONResponse(body, status_code=status)

        async def health(request: Request) -> Response:
            return JSONResponse({"status": "ok"})

        base = urlsplit(self.issuer).path
        return Starlette(
            routes=[Route(base + DISCOVERY_PATH, serve), Route(base + JWKS_PATH, serve), Route("/healthz", health)]
        )
