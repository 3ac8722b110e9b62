"""``InboundAuthorizer`` in front of an agent app, with Deputy's real keys over HTTP.

It refuses a missing token, a token for another audience, a client that is not allowed and a
missing scope; a good token becomes the current user token for that request only, and a tool in
the app exchanges it for the incident desk.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from deputy.agent import (
    ClientSecret,
    CredentialProvider,
    InboundAuthorizer,
    TokenBroker,
    TokenExchange,
    current_user_token,
    requires_access_token,
)
from deputy.agent.asgi import Receive, Scope, Send
from deputy.jose import peek_claims
from deputy.runtime import Deputy
from tests.conftest import AGENT, INCIDENTS


def agent_app(broker: TokenBroker) -> Any:
    @requires_access_token(provider="incident-desk", broker=broker)
    async def query_incidents(access_token: str = "") -> dict[str, Any]:
        claims = peek_claims(access_token)[1]
        return {"desk_sees": claims["sub"], "aud": claims["aud"]}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        user = current_user_token()
        body: dict[str, Any] = {"path": scope["path"], "user": None}
        if user is not None:
            body = {"user": [user.issuer, user.subject], "principal": scope["state"]["principal"].user,
                    **await query_incidents()}
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})

    return app


def test_the_authorizer(deputy: Deputy, base: str) -> None:
    broker = TokenBroker([CredentialProvider(
        name="incident-desk", flow=TokenExchange(), client=ClientSecret(*AGENT), token_endpoint=f"{base}/token",
        resource=INCIDENTS, scopes=("incidents:read",),
    )])
    app = InboundAuthorizer.for_issuer(
        agent_app(broker), base, ["incident-agent", "triage-agent"], allowed_clients=["incident-agent"],
        scopes=["openid"], public_paths=["/healthz"],
        resource_metadata="http://agent.example/.well-known/oauth-protected-resource",
    )
    assert [v.audience for v in app.verifiers] == ["incident-agent", "triage-agent"]
    admin = deputy.admin("test")
    jane = admin.issue_user_token("jane", "incident-agent")
    for_triage = admin.issue_user_token("jane", "triage-agent")
    no_scope = admin.issue_user_token("jane", "incident-agent", scopes=("profile",))

    async def main() -> dict[str, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://agent.example") as client:
            out = {
                "health": await client.get("/healthz"),
                "none": await client.get("/chat"),
                "garbage": await client.get("/chat", headers={"Authorization": "Bearer not-a-jwt"}),
                "triage": await client.get("/chat", headers={"Authorization": f"Bearer {for_triage}"}),
                "scope": await client.get("/chat", headers={"Authorization": f"Bearer {no_scope}"}),
                "jane": await client.get("/chat", headers={"Authorization": f"Bearer {jane}"}),
            }
            assert current_user_token() is None  # the request's token did not outlive it
            return out

    out = asyncio.run(main())
    assert out["health"].json() == {"path": "/healthz", "user": None}
    assert out["none"].status_code == 401 and "error" not in out["none"].json()
    assert out["none"].headers["www-authenticate"].startswith('Bearer scope="openid", resource_metadata=')
    assert out["garbage"].status_code == 401 and out["garbage"].json()["error"] == "invalid_token"
    assert out["triage"].status_code == 401 and out["triage"].json()["error"] == "invalid_token"
    assert out["scope"].status_code == 403 and out["scope"].json()["error"] == "insufficient_scope"
    assert out["jane"].status_code == 200, out["jane"].text
    assert out["jane"].json() == {"user": [base, "jane"], "principal": "jane", "desk_sees": "jane", "aud": INCIDENTS}
    for response in out.values():
        assert jane not in response.text


def test_websockets_without_a_token_are_closed_and_lifespan_passes() -> None:
    from deputy.resource import TokenVerifier

    seen: list[str] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    app = InboundAuthorizer(inner, TokenVerifier("https://as.example", "agent"))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    async def main() -> None:
        await app({"type": "websocket", "path": "/ws", "headers": []}, receive, send)
        await app({"type": "lifespan"}, receive, send)

    asyncio.run(main())
    assert sent == [{"type": "websocket.close", "code": 1008}] and seen == ["lifespan"]
