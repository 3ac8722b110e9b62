"""Sign-in with a real, independent OAuth client library over real HTTP.

Authlib's OAuth2Client (httpx flavour) drives the authorization code flow with PKCE S256 against
Deputy running in uvicorn; the sign-in and consent forms are filled in over HTTP like a browser
would (parsing the CSRF token from the page); the id_token is verified against /jwks with
joserfc; userinfo, refresh-token rotation, and then the agent's RFC 8693 exchange of the user's
token follow. A second test registers a public client dynamically (RFC 7591) and signs in for a
resource (RFC 8707) with it.
"""

from __future__ import annotations

import html
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import authlib.deprecate  # noqa: F401 - installs Authlib's own "always" filter first
import httpx
import pytest
from authlib.common.security import generate_token
from joserfc import jwt
from joserfc.jwk import KeySet

from deputy.admin.realm_file import load_realm, read_realm_file
from deputy.config import Settings
from deputy.runtime import Deputy
from tests.conftest import DEV_REALM
from tests.e2e.server import free_port, running_server

with warnings.catch_warnings():
    # Authlib announces a future move to "httpx2"; the httpx client it ships is what we test with.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import OAuth2Client

ADMIN = "e2e-admin-token-0123456789"
AGENT = ("incident-agent", "incident-agent-dev-secret")
REDIRECT = "http://127.0.0.1:8400/callback"
INCIDENTS = "https://incidents.example"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"


def _serve(tmp_path: Path, **settings: object) -> Iterator[str]:
    port = free_port()
    deputy = Deputy.open(
        Settings(issuer=f"http://127.0.0.1:{port}", home=tmp_path / "home", admin_token=ADMIN, **settings)  # type: ignore[arg-type]
    )
    load_realm(deputy.admin("test"), read_realm_file(DEV_REALM))
    try:
        with running_server(deputy, ADMIN, port) as base:
            yield base
    finally:
        deputy.close()


@pytest.fixture
def base(tmp_path: Path) -> Iterator[str]:
    yield from _serve(tmp_path)


@pytest.fixture
def registration_base(tmp_path: Path) -> Iterator[str]:
    yield from _serve(tmp_path, dynamic_registration=True, registration_status="active")


def _field(page: httpx.Response, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page.text)
    assert match, f"{name} not in page: {page.text[:500]}"
    return html.unescape(match.group(1))


def _action(page: httpx.Response) -> str:
    match = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert match
    return html.unescape(match.group(1))


def browser_signs_in(authorization_url: str, username: str, password: str) -> str:
    """What a person does in a browser: open the URL, sign in, allow. Returns the redirect URL
    with the code (the client's callback is not served: the browser stops at the redirect)."""
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        page = browser.get(authorization_url)
        assert page.status_code == 200 and 'name="password"' in page.text
        consent = browser.post(_action(page), data={
            "csrf_token": _field(page, "csrf_token"), "authorize": _field(page, "authorize"),
            "username": username, "password": password,
        })
        assert consent.status_code == 200 and "Allow" in consent.text, consent.text[:500]
        answer = browser.post(_action(consent), data={
            "csrf_token": _field(consent, "csrf_token"), "authorize": _field(consent, "authorize"), "decision": "approve",
        })
        assert answer.status_code == 303, answer.text[:500]
        return answer.headers["location"]


def test_authlib_signs_jane_in_and_the_agent_acts_for_her(base: str) -> None:
    meta = httpx.get(f"{base}/.well-known/openid-configuration").json()
    assert meta["issuer"] == base and "S256" in meta["code_challenge_methods_supported"]
    keys = KeySet.import_key_set(httpx.get(meta["jwks_uri"]).json())

    with OAuth2Client(
        client_id=AGENT[0], client_secret=AGENT[1], scope="openid profile email", redirect_uri=REDIRECT,
        code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic",
    ) as client:
        verifier = generate_token(64)
        nonce = generate_token(20)
        url, state = client.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
        query = parse_qs(urlsplit(url).query)
        assert query["code_challenge_method"] == ["S256"] and "code_challenge" in query

        callback = browser_signs_in(url, "jane", "jane-dev-password")
        returned = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
        assert callback.startswith(REDIRECT) and returned["state"] == state and returned["iss"] == base  # RFC 9207

        token = client.fetch_token(meta["token_endpoint"], authorization_response=callback, code_verifier=verifier)
        assert token["token_type"] == "Bearer" and token["refresh_token"]

        # the id_token, checked with an independent JOSE library against the published keys
        id_token = jwt.decode(token["id_token"], keys, algorithms=meta["id_token_signing_alg_values_supported"])
        claims = id_token.claims
        assert claims["iss"] == base and claims["aud"] == AGENT[0] and claims["sub"] == "jane"
        assert claims["nonce"] == nonce and "auth_time" in claims and "at_hash" in claims

        info = client.get(meta["userinfo_endpoint"])
        assert info.status_code == 200
        assert info.json() == {"sub": "jane", "preferred_username": "jane", "name": "Jane Doe", "email": "jane@example.com"}

        old_refresh = token["refresh_token"]
        refreshed = client.refresh_token(meta["token_endpoint"])
        assert refreshed["refresh_token"] != old_refresh and refreshed["access_token"] != token["access_token"]

        # the agent exchanges the user's token (addressed to it) for the incident desk
        r = httpx.post(meta["token_endpoint"], auth=AGENT, data={
            "grant_type": TOKEN_EXCHANGE, "subject_token": refreshed["access_token"], "subject_token_type": ACCESS,
            "resource": INCIDENTS,
        })
        assert r.status_code == 200, r.text
        delegated = jwt.decode(r.json()["access_token"], keys, algorithms=["ES256", "RS256"]).claims
        assert delegated["sub"] == "jane" and delegated["act"]["sub"] == AGENT[0] and delegated["aud"] == INCIDENTS

        # rotation: the old refresh token replayed kills the family, and so the delegated token
        replay = httpx.post(meta["token_endpoint"], auth=AGENT, data={"grant_type": "refresh_token", "refresh_token": old_refresh})
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        introspection = httpx.post(meta["introspection_endpoint"], auth=AGENT, data={"token": r.json()["access_token"]})
        assert introspection.json() == {"active": False}


def test_dynamically_registered_public_client_signs_in_for_a_resource(registration_base: str) -> None:
    base = registration_base
    meta = httpx.get(f"{base}/.well-known/oauth-authorization-server").json()
    assert "none" in meta["token_endpoint_auth_methods_supported"]
    registered = httpx.post(meta["registration_endpoint"], json={
        "client_name": "An MCP client", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
    })
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    # an administrator lets it reach the incident desk
    admin = {"Authorization": f"Bearer {ADMIN}"}
    agent = httpx.get(f"{base}/admin/agents/{client_id}", headers=admin).json()
    agent["resources"] = [{"resource": INCIDENTS, "scopes": ["incidents:read"]}]
    assert httpx.put(f"{base}/admin/agents/{client_id}", json=agent, headers=admin).status_code == 200

    with OAuth2Client(
        client_id=client_id, scope="incidents:read", redirect_uri=REDIRECT, code_challenge_method="S256",
        token_endpoint_auth_method="none",
    ) as client:
        verifier = generate_token(64)
        url, _ = client.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, resource=INCIDENTS)
        callback = browser_signs_in(url, "jane", "jane-dev-password")
        token = client.fetch_token(
            meta["token_endpoint"], authorization_response=callback, code_verifier=verifier, resource=INCIDENTS
        )
        keys = KeySet.import_key_set(httpx.get(meta["jwks_uri"]).json())
        claims = jwt.decode(token["access_token"], keys, algorithms=["ES256"]).claims
        assert claims["aud"] == INCIDENTS and claims["sub"] == "jane" and claims["client_id"] == client_id
        assert claims["scope"] == "incidents:read" and "act" not in claims
        assert client.refresh_token(meta["token_endpoint"])["access_token"]
