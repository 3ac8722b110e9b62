"""Entra-style on-behalf-of end to end, in the shape of seeds/000_2d63ebbc8fe53d4b.txt.

Jane signs in to the agent's app (Token A: her token, audience = the agent). The agent swaps it at
the token endpoint exactly as AgentCore's JWT_AUTHORIZATION_GRANT credential provider does with
Entra (client id and secret, ``grant_type=…:jwt-bearer``, ``requested_token_use=on_behalf_of``,
``scope=<resource>/.default``) and gets Token B for the incident desk, which checks it against the
JWKS and filters by the user: Jane sees IT incidents, Bob sees HR's. Pointing this code at Entra
instead changes only the token URL and the credentials.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from deputy.admin.realm_file import load_realm, read_realm_file
from deputy.config import Settings
from deputy.runtime import Deputy
from tests.conftest import DEV_REALM
from tests.e2e.browser import sign_in
from tests.e2e.server import free_port, running_server

ADMIN_SECRET = "e2e-admin-token-0123456789"
AGENT_APP_CLIENT_ID = "incident-agent"
AGENT_APP_CLIENT_SECRET = "incident-agent-dev-secret"
SNOW = "https://incidents.example"  # the resource: Entra's "API connector" app ID URI
INCIDENTS = [
    {"number": "INC0012345", "short_description": "VPN connection dropping", "category": "it"},
    {"number": "INC0012350", "short_description": "Employee complaint", "category": "hr"},
]


@pytest.fixture
def base(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    deputy = Deputy.open(Settings(issuer=f"http://127.0.0.1:{port}", home=tmp_path / "home", admin_token=ADMIN_SECRET))
    load_realm(deputy.admin("setup"), read_realm_file(DEV_REALM))
    try:
        with running_server(deputy, ADMIN_SECRET, port) as url:
            yield url
    finally:
        deputy.close()


def get_token_on_behalf_of(token_url: str, user_token: str, scopes: list[str]) -> dict[str, Any]:
    """What the credential provider sends to Entra's /oauth2/v2.0/token for ON_BEHALF_OF_TOKEN_EXCHANGE."""
    r = httpx.post(token_url, data={
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "client_id": AGENT_APP_CLIENT_ID,
        "client_secret": AGENT_APP_CLIENT_SECRET,
        "assertion": user_token,
        "scope": " ".join(scopes),
        "requested_token_use": "on_behalf_of",
    }, timeout=10)
    r.raise_for_status()
    body: dict[str, Any] = r.json()
    return body


def query_incidents(token_b: str, jwks_uri: str) -> list[dict[str, str]]:
    """The incident desk: verify Token B, then apply the user's ACLs (it: IT incidents, hr: HR's)."""
    claims = jwt.decode(token_b, KeySet.import_key_set(httpx.get(jwks_uri).json()), algorithms=["ES256", "RS256"]).claims
    assert claims["aud"] == SNOW
    categories = {"hr"} if "hr:read" in claims["scope"].split() else {"it"}
    return [i for i in INCIDENTS if i["category"] in categories]


def test_the_agent_queries_the_desk_as_the_user(base: str) -> None:
    meta = httpx.get(f"{base}/.well-known/openid-configuration").json()
    for user, password, expected in (("jane", "jane-dev-password", "INC0012345"), ("bob", "bob-dev-password", "INC0012350")):
        token_a = sign_in(base, AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET, user, password)["access_token"]
        token_b = get_token_on_behalf_of(meta["token_endpoint"], token_a, [f"{SNOW}/.default"])
        assert set(token_b) == {"token_type", "scope", "expires_in", "ext_expires_in", "access_token"}
        assert token_b["token_type"] == "Bearer"
        assert [i["number"] for i in query_incidents(token_b["access_token"], meta["jwks_uri"])] == [expected]
        claims = jwt.decode(
            token_b["access_token"], KeySet.import_key_set(httpx.get(meta["jwks_uri"]).json()), algorithms=["ES256"]
        ).claims
        assert claims["sub"] == user and claims["act"]["sub"] == AGENT_APP_CLIENT_ID  # the audit says who did it

    # MSAL adds openid/profile/offline_access to every request: ignored, no refresh token comes back
    token_a = sign_in(base, AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET, "jane", "jane-dev-password")["access_token"]
    msal = get_token_on_behalf_of(meta["token_endpoint"], token_a, ["openid", "profile", "offline_access", f"{SNOW}/incidents:read"])
    assert msal["scope"] == f"{SNOW}/incidents:read" and "refresh_token" not in msal


def test_a_token_for_another_app_is_refused(base: str) -> None:
    r = httpx.post(f"{base}/admin/users/jane/tokens", json={"client_id": "triage-agent"},
                   headers={"Authorization": f"Bearer {ADMIN_SECRET}"})
    token_for_triage = r.json()["access_token"]
    with pytest.raises(httpx.HTTPStatusError) as exc:
        get_token_on_behalf_of(f"{base}/token", token_for_triage, [f"{SNOW}/.default"])
    assert exc.value.response.status_code == 400
    assert exc.value.response.json()["error"] == "invalid_grant"
