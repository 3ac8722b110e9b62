"""A counting stand-in for a token endpoint and a downstream API (httpx.MockTransport)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import httpx

from deputy.agent import ClientSecret, CredentialProvider, TokenBroker, TokenExchange

TOKEN_URL = "https://as.example/token"
API = "https://api.example"


@dataclass
class FakeWorld:
    """Issues ``tok-1``, ``tok-2``, ... and counts exchanges; the API accepts only ``valid``."""

    exchanges: int = 0
    valid: set[str] = field(default_factory=set)
    api_calls: list[str] = field(default_factory=list)
    refuse: tuple[int, dict[str, str]] | None = None
    api_refuses_all: bool = False
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def handle(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            if self.refuse is not None:
                return httpx.Response(self.refuse[0], json=self.refuse[1])
            self.exchanges += 1
            value = f"tok-{next(self._ids)}-for-{form.get('subject_token', 'agent')}"
            self.valid.add(value)
            return httpx.Response(200, json={"access_token": value, "token_type": "Bearer", "expires_in": 300,
                                             "issued_token_type": "urn:ietf:params:oauth:token-type:access_token"})
        presented = request.headers.get("authorization", "").removeprefix("Bearer ")
        self.api_calls.append(presented)
        if presented not in self.valid or self.api_refuses_all:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return httpx.Response(200, json={"ok": True})

    def broker(self) -> TokenBroker:
        transport = httpx.MockTransport(self.handle)
        return TokenBroker(
            [CredentialProvider(name="api", flow=TokenExchange(), client=ClientSecret("agent", "agent-secret"),
                                token_endpoint=TOKEN_URL, resource=API, scopes=("read",))],
            http_client=httpx.Client(transport=transport),
            async_http_client=httpx.AsyncClient(transport=transport),
        )

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)
