"""The Starlette integration, in process (httpx.ASGITransport): the decorator, the FastAPI-style
dependency, the whole-app middleware for MCP servers, and the RFC 9728 metadata route."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from deputy.clock import FixedClock
from deputy.resource import DPoPSettings, Principal, TokenVerifier
from deputy.resource.asgi import ProtectedResource, principal_of
from tests.resource.support import API_URL, RESOURCE, START, FakeAS, dpop_key, jkt, proof

META = "https://api.example/.well-known/oauth-protected-resource"


@pytest.fixture
def fake() -> FakeAS:
    return FakeAS(FixedClock(START))


@pytest.fixture
def resource(fake: FakeAS) -> ProtectedResource:
    return ProtectedResource(fake.introspecting_verifier(), scopes_supported=["incidents:read", "incidents:write", "hr:read"])


def who(principal: Principal) -> dict[str, Any]:
    return {"user": principal.user, "agent": principal.agent, "chain": list(principal.chain),
            "scopes": sorted(principal.scopes)}


def app_for(resource: ProtectedResource) -> Starlette:
    @resource.require_scopes("incidents:read")
    async def incidents(request: Request) -> Response:
        return JSONResponse(who(request.state.principal))

    @resource.require_scopes("incidents:read", "hr:read")
    async def hr(request: Request) -> Response:
        return JSONResponse(who(principal_of(request)))

    @resource.require_scopes("incidents:read", introspect=True)
    def sensitive(request: Request) -> Response:  # a plain function: runs in the thread pool
        return JSONResponse(who(principal_of(request)))

    read = resource.dependency("incidents:read")

    async def fastapi_style(request: Request) -> Response:
        return JSONResponse(who(await read(request)))

    return Starlette(
        routes=[
            Route("/incidents", incidents),
            Route("/hr", hr),
            Route("/sensitive", sensitive),
            Route("/dependency", fastapi_style),
            Route(resource.metadata_path, resource.metadata_app),
        ],
        exception_handlers=dict(resource.exception_handlers),
    )


def call(app: Any, path: str, *, method: str = "GET", headers: dict[str, str] | None = None,
         base_url: str = RESOURCE) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as client:
            return await client.request(method, path, headers=headers)

    return asyncio.run(go())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_handler_sees_the_user_and_the_agent(fake: FakeAS, resource: ProtectedResource) -> None:
    token = fake.token(act={"sub": "triage-agent", "act": {"sub": "incident-agent"}})
    response = call(app_for(resource), "/incidents", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json() == {"user": "jane", "agent": "triage-agent", "chain": ["triage-agent", "incident-agent"],
                               "scopes": ["incidents:read", "incidents:write"]}
    assert call(app_for(resource), "/dependency", headers=bearer(token)).json()["agent"] == "triage-agent"
    assert call(app_for(resource), "/sensitive", headers=bearer(token)).json()["user"] == "jane"
    assert len(fake.introspected) == 1  # only the route that asked for it


def test_no_token(fake: FakeAS, resource: ProtectedResource) -> None:
    for path in ("/incidents", "/dependency"):
        response = call(app_for(resource), path)
        assert response.status_code == 401
        assert response.headers.get_list("www-authenticate") == [
            f'Bearer scope="incidents:read", resource_metadata="{META}"',
            f'DPoP scope="incidents:read", resource_metadata="{META}", algs="ES256 ES384 PS256 RS256 Ed25519"',
        ]
        assert response.json() == {"error_description": "An access token is required."}
        assert response.headers["cache-control"] == "no-store"


def test_missing_scope(fake: FakeAS, resource: ProtectedResource) -> None:
    response = call(app_for(resource), "/hr", headers=bearer(fake.token()))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", error_description="The access token does not carry the required scope.", '
        f'scope="incidents:read hr:read", resource_metadata="{META}"'
    )


def test_invalid_token(fake: FakeAS, resource: ProtectedResource) -> None:
    response = call(app_for(resource), "/incidents", headers=bearer(fake.token(aud="https://other.example")))
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "error_description": "The access token is invalid."}
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    response = call(app_for(resource), "/dependency", headers={"Authorization": "Bearer a b"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_revoked_token_on_the_introspecting_route(fake: FakeAS, resource: ProtectedResource) -> None:
    fake.introspection = lambda token: {"active": False}
    token = fake.token()
    assert call(app_for(resource), "/incidents", headers=bearer(token)).status_code == 200
    response = call(app_for(resource), "/sensitive", headers=bearer(token))
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"


def test_authorization_server_down(fake: FakeAS, resource: ProtectedResource) -> None:
    fake.status = 503
    response = call(app_for(resource), "/incidents", headers=bearer(fake.token()))
    assert response.status_code == 503
    assert "www-authenticate" not in response.headers


def test_metadata_route(resource: ProtectedResource) -> None:
    response = call(app_for(resource), "/.well-known/oauth-protected-resource")
    assert response.status_code == 200
    document = response.json()
    assert document["resource"] == RESOURCE
    assert document["authorization_servers"] == ["https://as.example"]
    assert document["scopes_supported"] == ["incidents:read", "incidents:write", "hr:read"]
    assert document["bearer_methods_supported"] == ["header"]
    assert "dpop_signing_alg_values_supported" in document


def test_dpop_through_starlette(fake: FakeAS, resource: ProtectedResource) -> None:
    key = dpop_key()
    token = fake.token(cnf={"jkt": jkt(key)})
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof(key, token, now=fake.clock.now(), url=API_URL)}
    assert call(app_for(resource), "/incidents?sysparm_limit=5", headers=headers).status_code == 200
    replayed = call(app_for(resource), "/incidents", headers=headers)
    assert replayed.status_code == 401
    assert replayed.headers["www-authenticate"].startswith('DPoP error="invalid_dpop_proof"')
    as_bearer = call(app_for(resource), "/incidents", headers=bearer(token))
    assert as_bearer.status_code == 401
    assert as_bearer.headers["www-authenticate"].startswith('DPoP error="invalid_token"')


def test_dpop_behind_a_proxy(fake: FakeAS) -> None:
    resource = ProtectedResource(fake.introspecting_verifier(), public_url="https://api.example/")
    key = dpop_key()
    token = fake.token(cnf={"jkt": jkt(key)})
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof(key, token, now=fake.clock.now(), url=API_URL)}
    response = call(app_for(resource), "/incidents", headers=headers, base_url="http://10.0.0.7:8080")
    assert response.status_code == 200, response.text


def test_dpop_required_offers_only_dpop(fake: FakeAS) -> None:
    resource = ProtectedResource(fake.introspecting_verifier(dpop=DPoPSettings(required=True)))
    challenges = call(app_for(resource), "/incidents").headers.get_list("www-authenticate")
    assert [c.split()[0] for c in challenges] == ["DPoP"]


# -- the whole-app middleware (what an MCP server uses) --------------------------------------------

def mcp_like_app() -> Starlette:
    async def mcp(request: Request) -> Response:
        return JSONResponse({"caller": principal_of(request).describe()})

    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(principal_of(websocket).user)
        await websocket.close()

    return Starlette(routes=[Route("/mcp", mcp, methods=["POST"]), WebSocketRoute("/ws", ws)])


def test_protect_a_whole_app(fake: FakeAS) -> None:
    verifier = TokenVerifier("https://as.example", "https://mcp.example/mcp", clock=fake.clock,
                             async_http_client=httpx.AsyncClient(transport=fake.transport()))
    resource = ProtectedResource(verifier, scopes_supported=["mcp:tools"])
    app = resource.protect(mcp_like_app(), "mcp:tools")
    meta = "https://mcp.example/.well-known/oauth-protected-resource/mcp"

    metadata = call(app, "/.well-known/oauth-protected-resource/mcp", base_url="https://mcp.example")
    assert metadata.status_code == 200 and metadata.json()["resource"] == "https://mcp.example/mcp"

    missing = call(app, "/mcp", method="POST", base_url="https://mcp.example")
    assert missing.status_code == 401
    assert missing.headers.get_list("www-authenticate")[0] == f'Bearer scope="mcp:tools", resource_metadata="{meta}"'

    token = fake.token(aud="https://mcp.example/mcp", scope="mcp:tools")
    ok = call(app, "/mcp", method="POST", headers=bearer(token), base_url="https://mcp.example")
    assert ok.status_code == 200 and ok.json() == {"caller": "jane <- incident-agent"}

    other = fake.token(scope="mcp:tools")  # a token for another resource: no passthrough
    assert call(app, "/mcp", method="POST", headers=bearer(other), base_url="https://mcp.example").status_code == 401
    short = fake.token(aud="https://mcp.example/mcp", scope="incidents:read")
    assert call(app, "/mcp", method="POST", headers=bearer(short), base_url="https://mcp.example").status_code == 403

    with TestClient(app, base_url="https://mcp.example") as client:
        with client.websocket_connect("/ws", headers=bearer(token)) as socket:
            assert socket.receive_text() == "jane"
        with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/ws"):
            pass
        assert info.value.code == 1008


def test_misconfiguration_fails_at_start_up(fake: FakeAS) -> None:
    resource = ProtectedResource(fake.verifier())
    with pytest.raises(ValueError):
        resource.require_scopes("incidents:read", introspect=True)
    with pytest.raises(ValueError):
        resource.protect(mcp_like_app(), introspect=True)
    with pytest.raises(ValueError):
        ProtectedResource(TokenVerifier("https://as.example", "triage-agent"))
    named = ProtectedResource(TokenVerifier("https://as.example", "triage-agent"),
                              metadata_url="https://triage.example/.well-known/oauth-protected-resource")
    assert named.metadata_path == "/.well-known/oauth-protected-resource"


def test_principal_of_an_unauthenticated_request() -> None:
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""})
    with pytest.raises(LookupError):
        principal_of(request)
