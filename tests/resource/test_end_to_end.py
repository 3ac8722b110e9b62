"""The resource SDK against a real Deputy, over real HTTP.

Deputy (the ``deputy`` fixture, served by uvicorn on a free port) issues jane's token to
incident-agent, which exchanges it (RFC 8693) for a token for the incident desk. The desk is a
small Starlette API protected with ``deputy.resource.asgi``, also under uvicorn. It finds
Deputy's keys through RFC 8414 discovery, sees user=jane and agent=incident-agent, refuses a
missing token (401 + resource_metadata), a missing scope (403) and the user's own token (not for
this audience: no passthrough), and, on its introspecting route, the token right after it was
revoked at Deputy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from deputy.config import Settings
from deputy.resource import Introspection, TokenVerifier
from deputy.resource.asgi import ProtectedResource, principal_of
from deputy.runtime import Deputy
from tests.conftest import ACCESS_TOKEN_TYPE, ADMIN_TOKEN, AGENT, INCIDENTS, TOKEN_EXCHANGE, TRIAGE
from tests.e2e.asgi_server import serving
from tests.e2e.server import free_port, running_server
from tests.protocol.support import add_agent

DESK_METADATA = "https://incidents.example/.well-known/oauth-protected-resource"


@pytest.fixture
def deputy_port() -> int:
    return free_port()


@pytest.fixture
def settings(tmp_path: Path, deputy_port: int) -> Settings:
    """The shared ``deputy`` fixture, with its issuer on the port it will be served on."""
    return Settings(issuer=f"http://127.0.0.1:{deputy_port}", home=tmp_path / "home", admin_token=ADMIN_TOKEN)


def desk_app(resource: ProtectedResource) -> Starlette:
    def who(request: Request) -> dict[str, Any]:
        principal = principal_of(request)
        return {"user": principal.user, "agent": principal.agent, "chain": list(principal.chain),
                "scopes": sorted(principal.scopes), "client_id": principal.client_id}

    @resource.require_scopes("incidents:read")
    async def incidents(request: Request) -> Response:
        return JSONResponse({"result": [], "caller": who(request)})

    @resource.require_scopes("hr:read")
    async def hr_cases(request: Request) -> Response:
        return JSONResponse({"result": []})

    @resource.require_scopes("incidents:write", introspect=True)
    async def update(request: Request) -> Response:
        return JSONResponse({"updated": True, "caller": who(request)})

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[
        Route("/api/now/table/incident", incidents),
        Route("/api/now/table/hr_case", hr_cases),
        Route("/api/now/table/incident/1", update, methods=["PATCH"]),
        Route("/healthz", health),
        Route(resource.metadata_path, resource.metadata_app),
    ])


@pytest.fixture
def world(deputy: Deputy, deputy_port: int) -> Iterator[tuple[str, str]]:
    """(Deputy's base URL, the desk's base URL), both served over HTTP until the test ends."""
    desk_client, desk_secret = add_agent(deputy, "incident-desk", {})  # the desk's introspection credential
    desk_port = free_port()
    with running_server(deputy, ADMIN_TOKEN, deputy_port) as base:
        verifier = TokenVerifier(
            base, INCIDENTS, introspection=Introspection(desk_client, desk_secret), refresh_interval=5,
        )
        resource = ProtectedResource(verifier, scopes_supported=["incidents:read", "incidents:write", "hr:read"],
                                     resource_name="Incident desk")
        with serving(desk_app(resource), desk_port) as desk:
            yield base, desk


def exchange(base: str, auth: tuple[str, str], subject: str, **target: str) -> str:
    data = {"grant_type": TOKEN_EXCHANGE, "subject_token": subject, "subject_token_type": ACCESS_TOKEN_TYPE, **target}
    response = httpx.post(f"{base}/token", data=data, auth=auth)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_desk_accepts_deputys_delegated_tokens(deputy: Deputy, world: tuple[str, str]) -> None:
    base, desk = world
    user_token = deputy.admin("test").issue_user_token("jane", "incident-agent")
    token = exchange(base, AGENT, user_token, resource=INCIDENTS)

    # The delegated token: the handler sees jane, acting through incident-agent.
    response = httpx.get(f"{desk}/api/now/table/incident", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["caller"] == {
        "user": "jane", "agent": "incident-agent", "chain": ["incident-agent"],
        "scopes": ["incidents:read", "incidents:write"], "client_id": "incident-agent",
    }

    # No token: 401, and the challenge says where to learn how to get one (RFC 9728).
    response = httpx.get(f"{desk}/api/now/table/incident")
    assert response.status_code == 401
    challenge = response.headers.get_list("www-authenticate")[0]
    assert challenge == f'Bearer scope="incidents:read", resource_metadata="{DESK_METADATA}"'
    metadata = httpx.get(f"{desk}/.well-known/oauth-protected-resource").json()
    assert metadata["resource"] == INCIDENTS and metadata["authorization_servers"] == [base]

    # jane is in "it": no hr:read in her delegated token.
    response = httpx.get(f"{desk}/api/now/table/hr_case", headers=bearer(token))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert 'scope="hr:read"' in response.headers["www-authenticate"]

    # The user's own token (aud = incident-agent) is not for the desk: no token passthrough.
    response = httpx.get(f"{desk}/api/now/table/incident", headers=bearer(user_token))
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"


def test_a_chain_of_agents(deputy: Deputy, world: tuple[str, str]) -> None:
    base, desk = world
    user_token = deputy.admin("test").issue_user_token("jane", "incident-agent")
    hop = exchange(base, AGENT, user_token, audience="triage-agent")
    token = exchange(base, TRIAGE, hop, resource=INCIDENTS)
    caller = httpx.get(f"{desk}/api/now/table/incident", headers=bearer(token)).json()["caller"]
    assert caller["user"] == "jane"
    assert caller["agent"] == "triage-agent"  # the current actor; incident-agent is a prior actor
    assert caller["chain"] == ["triage-agent", "incident-agent"]
    assert caller["client_id"] == "triage-agent"
    # Authority only shrinks: triage-agent may only read at the desk.
    assert caller["scopes"] == ["incidents:read"]


def test_introspection_sees_revocation_at_once(deputy: Deputy, world: tuple[str, str]) -> None:
    base, desk = world
    user_token = deputy.admin("test").issue_user_token("jane", "incident-agent")
    token = exchange(base, AGENT, user_token, resource=INCIDENTS)
    update = f"{desk}/api/now/table/incident/1"
    response = httpx.patch(update, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["caller"]["agent"] == "incident-agent"

    revoked = httpx.post(f"{base}/revoke", data={"token": token}, auth=AGENT)
    assert revoked.status_code == 200

    response = httpx.patch(update, headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    # Routes that do not introspect accept the JWT until it expires: that is the trade-off.
    assert httpx.get(f"{desk}/api/now/table/incident", headers=bearer(token)).status_code == 200
