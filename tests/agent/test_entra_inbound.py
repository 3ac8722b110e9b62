"""Entra ID v2 access tokens at the inbound authorizer: accepted by ``for_entra`` only, never by
the strict default; an ID token (also ``typ: JWT``) never passes as an access token.

The fake issuer (tests/fake_issuer.py) plays the tenant: its issuer is the tenant's v2 issuer,
its OpenID configuration and keys are served in-process.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from deputy.agent import InboundAuthorizer, current_user_token
from deputy.agent.asgi import Receive, Scope, Send
from deputy.agent.entra import EntraTokenVerifier, entra_issuer
from deputy.resource import TokenVerifier
from tests.fake_issuer import FakeIssuer

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP = "6e74172b-be56-4843-9ff4-e66a39bb12e3"  # the agent app's client id: the access token's aud
APP_URI = "api://incident-agent"
CLIENT = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"  # the front end that got the token: azp
ISSUER = entra_issuer(TENANT)


@pytest.fixture
def tenant() -> FakeIssuer:
    return FakeIssuer(ISSUER, alg="RS256")


def access_token(tenant: FakeIssuer, **changes: Any) -> str:
    """A v2 delegated access token as Entra issues it (header typ JWT), with ``changes``."""
    claims = tenant.claims(sub="AAAAAAAAjane-pairwise", aud=APP, jti=None, ver="2.0", tid=TENANT, azp=CLIENT,
                           azpacr="1", scp="access_as_user Incidents.Read", oid="00000000-jane",
                           uti="AbCdEf123", name="Jane Doe", preferred_username="jane@contoso.example")
    claims.update(changes)
    return tenant.mint({k: v for k, v in claims.items() if v is not None}, typ="JWT")


def id_token(tenant: FakeIssuer, **changes: Any) -> str:
    """The v2 ID token the front end got at sign-in, for the agent app itself (aud = its id)."""
    claims = tenant.claims(sub="AAAAAAAAjane-pairwise", aud=APP, jti=None, ver="2.0", tid=TENANT,
                           nonce="n-0S6_WzA2Mj", oid="00000000-jane", uti="XyZ", name="Jane Doe")
    claims.update(changes)
    return tenant.mint({k: v for k, v in claims.items() if v is not None}, typ="JWT")


def echo(scope: Scope, receive: Receive, send: Send) -> Any:
    async def run() -> None:
        user = current_user_token()
        principal = scope["state"]["principal"]
        body = {"user": [user.issuer, user.subject] if user else None, "client": principal.client_id,
                "scopes": sorted(principal.scopes), "jti": principal.token_id}
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})

    return run()


def call(app: InboundAuthorizer, *tokens: str) -> list[httpx.Response]:
    async def main() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent.example") as c:
            return [await c.get("/chat", headers={"Authorization": f"Bearer {t}"}) for t in tokens]

    return asyncio.run(main())


def entra(tenant: FakeIssuer, **options: Any) -> InboundAuthorizer:
    return InboundAuthorizer.for_entra(
        echo, TENANT, [APP, APP_URI], allowed_clients=[CLIENT], async_http_client=httpx.AsyncClient(
            transport=tenant.transport()), **options)


def test_entra_v2_tokens_are_accepted_when_configured(tenant: FakeIssuer) -> None:
    app = entra(tenant, scopes=["access_as_user"])
    assert [type(v) for v in app.verifiers] == [EntraTokenVerifier, EntraTokenVerifier]
    by_id, by_uri = call(app, access_token(tenant), access_token(tenant, aud=APP_URI))
    assert by_id.status_code == 200, by_id.text
    assert by_id.json() == {"user": [ISSUER, "AAAAAAAAjane-pairwise"], "client": CLIENT,
                            "scopes": ["Incidents.Read", "access_as_user"], "jti": "AbCdEf123"}
    assert by_uri.status_code == 200, by_uri.text
    assert tenant.discovery_fetches > 0  # keys found by the tenant's OpenID configuration


def test_the_default_stays_strict(tenant: FakeIssuer) -> None:
    """An Entra v2 access token (typ JWT) at a default verifier: refused, for its typ."""
    app = InboundAuthorizer(echo, TokenVerifier(ISSUER, APP, discovery_url=tenant.discovery_url,
                                                algorithms=["RS256"],
                                                async_http_client=httpx.AsyncClient(transport=tenant.transport())))
    (response,) = call(app, access_token(tenant))
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"


@pytest.mark.parametrize("name, token", [
    ("id token for this app", lambda t: id_token(t)),
    ("id token with azp and roles", lambda t: id_token(t, azp=CLIENT, roles=["Incidents.Admin"])),
    ("id token with scp smuggled in", lambda t: id_token(t, azp=CLIENT, scp="access_as_user")),
    ("access token with at_hash", lambda t: access_token(t, at_hash="x")),
    ("no azp", lambda t: access_token(t, azp=None)),
    ("empty scp", lambda t: access_token(t, scp=" ")),
    ("v1 token", lambda t: access_token(t, ver="1.0")),
    ("another tenant", lambda t: access_token(t, tid="another-tenant")),
    ("another app", lambda t: access_token(t, aud="api://another-app")),
    ("another client", lambda t: access_token(t, azp="evil-client")),
    ("at+jwt typ", lambda t: t.mint({**t.claims(aud=APP), "ver": "2.0", "tid": TENANT, "azp": CLIENT,
                                      "scp": "access_as_user"}, typ="at+jwt")),
    ("app-only token", lambda t: access_token(t, scp=None, roles=["Incidents.Read"], idtyp="app")),
])
def test_what_entra_mode_refuses(tenant: FakeIssuer, name: str, token: Any) -> None:
    (response,) = call(entra(tenant), token(tenant))
    assert response.status_code == 401, (name, response.text)
    assert response.json()["error"] == "invalid_token"


def test_app_only_tokens_need_the_option_and_idtyp(tenant: FakeIssuer) -> None:
    app = entra(tenant, accept_app_tokens=True)
    ok, no_idtyp, id_with_roles = call(
        app,
        access_token(tenant, scp=None, roles=["Incidents.Read"], idtyp="app"),
        access_token(tenant, scp=None, roles=["Incidents.Read"]),
        id_token(tenant, azp=CLIENT, roles=["Incidents.Read"], nonce=None),
    )
    assert ok.status_code == 200 and ok.json()["scopes"] == []  # roles are not scopes
    assert no_idtyp.status_code == 401 and id_with_roles.status_code == 401


def test_multi_tenant_aliases_are_refused_at_start_up() -> None:
    for alias in ("common", "organizations", ""):
        with pytest.raises(ValueError, match="tenant"):
            EntraTokenVerifier(alias, APP)
