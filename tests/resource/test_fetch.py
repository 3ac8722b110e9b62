"""Fetching over real HTTP: an authorization server's metadata and JWKS served by a tiny Starlette
app under uvicorn on 127.0.0.1, read by verify() (httpx.Client) and averify() (httpx.AsyncClient)
without injected clients; slow answers hit the timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from deputy.clock import SystemClock
from deputy.resource import TemporarilyUnavailable, TokenVerifier
from deputy.resource.fetch import check_url
from tests.e2e.asgi_server import serving
from tests.e2e.server import free_port
from tests.resource.support import RESOURCE, FakeAS


class LiveAS(FakeAS):
    def __init__(self, base: str) -> None:
        super().__init__(SystemClock())  # type: ignore[arg-type]
        self.base = base
        self.slow = False

    def claims(self, **overrides: Any) -> dict[str, Any]:
        return super().claims(iss=self.base, **overrides)

    def app(self) -> Starlette:
        async def metadata(request: Request) -> Response:
            self.discovery_fetches += 1
            return JSONResponse({"issuer": self.base, "jwks_uri": f"{self.base}/jwks"})

        async def jwks(request: Request) -> Response:
            if self.slow:
                await asyncio.sleep(2)
            self.jwks_fetches += 1
            return JSONResponse(self.jwks())

        async def health(request: Request) -> Response:
            return PlainTextResponse("ok")

        return Starlette(routes=[
            Route("/.well-known/oauth-authorization-server", metadata),
            Route("/jwks", jwks),
            Route("/healthz", health),
        ])


@pytest.fixture(scope="module")
def live() -> Iterator[LiveAS]:
    port = free_port()
    server = LiveAS(f"http://127.0.0.1:{port}")
    with serving(server.app(), port):
        yield server


def test_verify_and_averify_over_http(live: LiveAS) -> None:
    before = live.jwks_fetches
    verifier = TokenVerifier(live.base, RESOURCE)
    assert verifier.verify(live.token()).user == "jane"
    assert asyncio.run(TokenVerifier(live.base, RESOURCE).averify(live.token(key=live.rs))).user == "jane"
    assert live.jwks_fetches == before + 2


def test_timeout(live: LiveAS) -> None:
    live.slow = True
    try:
        with pytest.raises(TemporarilyUnavailable, match="Timeout"):
            TokenVerifier(live.base, RESOURCE, timeout=0.3).verify(live.token())
        with pytest.raises(TemporarilyUnavailable, match="Timeout"):
            asyncio.run(TokenVerifier(live.base, RESOURCE, timeout=0.3).averify(live.token()))
    finally:
        live.slow = False


@pytest.mark.parametrize(
    ("url", "ok"),
    [("https://as.example/jwks", True), ("http://127.0.0.1:9/jwks", True), ("http://localhost/jwks", True),
     ("http://as.example/jwks", False), ("ftp://as.example/jwks", False), ("https://as.example/jwks#k", False),
     ("/jwks", False), ("https://[::1/jwks", False)],
)
def test_check_url(url: str, ok: bool) -> None:
    assert (check_url(url) is None) is ok
