"""Cross-app access (Okta's "XAA", the ID-JAG draft) between two independent Deputy servers.

One Deputy is the enterprise IdP (the seed's "Org Authorization Server"), the other is the
authorization server of the incident desk (the seed's "Custom Authorization Server"). Each has its
own store, home, signing keys and issuer URL, and runs in uvicorn on its own port. The resource AS
trusts the IdP for ID-JAGs (by its discovery document); the IdP knows the resource AS as a partner
and the agent's client_id there.

The client follows seeds/001_90f102608e5f9fd8.txt step by step: an agent key pair with a ``kid``
registered at both servers; the user's id_token from an OIDC sign-in (the seed's get_id_token.py);
a fresh private_key_jwt client assertion per token endpoint (aud = that token URL); id_token ->
ID-JAG at the IdP; ID-JAG -> access token at the resource AS with the jwt-bearer grant. The access
token is then verified the way the incident desk would: against the resource AS's JWKS.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from deputy.admin.realm_file import load_realm, read_realm_file
from deputy.config import Settings
from deputy.runtime import Deputy
from tests.conftest import DEV_REALM
from tests.e2e.browser import sign_in
from tests.e2e.server import free_port, running_server

ADMIN_SECRET = "e2e-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_SECRET}"}
INCIDENTS = "https://incidents.example"
AGENT_CLIENT_ID = "incident-agent"  # at the IdP (it is also the OIDC app jane signs in to)
AGENT_CLIENT_ID_AT_AS = "xaa-incident-agent"  # the same agent, as the resource AS knows it
AGENT_KEY_ID = "incident-agent-2026-1"
OKTA_SCOPE = "incidents:read"


@dataclass
class Servers:
    idp: str  # the enterprise IdP's issuer (and base URL)
    resource_as: str  # the incident desk's authorization server
    private_jwk: dict[str, Any]  # the agent's private key, as the seed keeps it in a secrets manager


def _deputy(tmp_path: Path, name: str, port: int) -> Deputy:
    return Deputy.open(Settings(issuer=f"http://127.0.0.1:{port}", home=tmp_path / name, admin_token=ADMIN_SECRET))


def _resource_as_realm(public_jwk: dict[str, Any]) -> dict[str, Any]:
    """The incident desk's own realm: its users are named by e-mail, as ServiceNow's are."""
    return {
        "groups": [{"name": "it"}],
        "resources": [{"identifier": INCIDENTS, "scopes": ["incidents:read", "incidents:write"]}],
        "users": [{"username": "jane@example.com", "groups": ["it"]}],
        "entitlements": [{"group": "it", "resource": INCIDENTS, "scopes": ["incidents:read", "incidents:write"]}],
        "agents": [{
            "client_id": AGENT_CLIENT_ID_AT_AS, "status": "active", "subject_groups": ["it"],
            "resources": [{"resource": INCIDENTS, "scopes": ["incidents:read", "incidents:write"]}],
            "keys": [public_jwk],
        }],
    }


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    idp_port, as_port = free_port(), free_port()
    idp, resource_as = _deputy(tmp_path, "idp", idp_port), _deputy(tmp_path, "resource-as", as_port)
    # The agent's credentials: an RSA key pair with a kid (the seed's "Generate key pair").
    key = RSAKey.generate_key(2048, parameters={"kid": AGENT_KEY_ID, "alg": "RS256", "use": "sig"}, private=True)
    public_jwk = key.as_dict(private=False)
    try:
        load_realm(idp.admin("setup"), read_realm_file(DEV_REALM))
        load_realm(resource_as.admin("setup"), _resource_as_realm(public_jwk))
        with running_server(idp, ADMIN_SECRET, idp_port) as idp_url, \
                running_server(resource_as, ADMIN_SECRET, as_port) as as_url:
            # The administrators' side, over each server's admin API:
            # at the IdP, the agent's public key and the partner AS (with the agent's client_id there);
            r = httpx.post(f"{idp_url}/admin/agents/{AGENT_CLIENT_ID}/keys", json=public_jwk, headers=ADMIN)
            assert r.status_code == 200, r.text
            r = httpx.post(f"{idp_url}/admin/partners", headers=ADMIN, json={
                "issuer": as_url, "name": "Incident desk AS", "agent_clients": {AGENT_CLIENT_ID: AGENT_CLIENT_ID_AT_AS},
                "scopes": ["incidents:read"], "resources": [INCIDENTS],
            })
            assert r.status_code == 200, r.text
            # at the resource AS, the IdP as a trusted issuer of ID-JAGs, users named by e-mail.
            r = httpx.post(f"{as_url}/admin/issuers", headers=ADMIN, json={
                "issuer": idp_url, "discovery_url": f"{idp_url}/.well-known/openid-configuration",
                "user_claim": "email", "id_jag": True, "algorithms": ["RS256"],
            })
            assert r.status_code == 200, r.text
            yield Servers(idp_url, as_url, key.as_dict(private=True))
    finally:
        idp.close()
        resource_as.close()


# -- the agent's code, in the shape of the seed's main.py ------------------------------------------

def build_client_assertion(client_id: str, audience: str, private_key_jwk: dict[str, Any], kid: str) -> str:
    private_key = RSAKey.import_key(private_key_jwk)
    now = int(time.time())
    return jwt.encode(
        {"alg": "RS256", "kid": kid},
        {"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())},
        private_key,
        algorithms=["RS256"],
    )


def exchange_id_token_for_id_jag(
    id_token: str, client_assertion: str, org_token_url: str, custom_as_audience: str
) -> httpx.Response:
    return httpx.post(org_token_url, data={
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": client_assertion,
        "subject_token": id_token,
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "requested_token_type": "urn:ietf:params:oauth:token-type:id-jag",
        "scope": OKTA_SCOPE,
        "audience": custom_as_audience,
    }, timeout=10)


def exchange_id_jag_for_access_token(id_jag: str, client_assertion: str, resource_token_url: str) -> httpx.Response:
    return httpx.post(resource_token_url, data={
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": client_assertion,
        "assertion": id_jag,
    }, timeout=10)


def verified(token: str, jwks_uri: str) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = KeySet.import_key_set(httpx.get(jwks_uri).json())
    decoded = jwt.decode(token, keys, algorithms=["ES256", "RS256"])
    return dict(decoded.header), dict(decoded.claims)


def audit(server: str, type_: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{server}/admin/audit", params={"type": type_, "order": "asc"}, headers=ADMIN)
    assert r.status_code == 200, r.text
    events: list[dict[str, Any]] = r.json()
    return events


# -- the flow ------------------------------------------------------------------------------------

def test_id_token_to_id_jag_to_access_token(servers: Servers) -> None:
    org = httpx.get(f"{servers.idp}/.well-known/openid-configuration").json()
    custom = httpx.get(f"{servers.resource_as}/.well-known/oauth-authorization-server").json()
    assert "urn:ietf:params:oauth:token-type:id-jag" in org["identity_chaining_requested_token_types_supported"]
    assert "urn:ietf:params:oauth:grant-profile:id-jag" in custom["authorization_grant_profiles_supported"]
    org_token_url, custom_token_url, custom_as_audience = org["token_endpoint"], custom["token_endpoint"], custom["issuer"]

    # The user signs in to the OIDC app linked to the agent (the seed's get_id_token.py).
    id_token = sign_in(servers.idp, AGENT_CLIENT_ID, "incident-agent-dev-secret", "jane", "jane-dev-password")["id_token"]

    # Step 1: a client assertion for the IdP's token endpoint, then id_token -> ID-JAG.
    ca_org = build_client_assertion(AGENT_CLIENT_ID, org_token_url, servers.private_jwk, AGENT_KEY_ID)
    r = exchange_id_token_for_id_jag(id_token, ca_org, org_token_url, custom_as_audience)
    assert r.status_code == 200, r.text
    assert r.json()["issued_token_type"] == "urn:ietf:params:oauth:token-type:id-jag"
    assert r.json()["token_type"] == "N_A" and "refresh_token" not in r.json()
    id_jag = r.json()["access_token"]
    header, jag = verified(id_jag, org["jwks_uri"])
    assert header["typ"] == "oauth-id-jag+jwt"
    assert (jag["iss"], jag["sub"], jag["aud"], jag["client_id"]) == (
        servers.idp, "jane", servers.resource_as, AGENT_CLIENT_ID_AT_AS,
    )
    assert jag["scope"] == OKTA_SCOPE and jag["email"] == "jane@example.com"

    # Step 2: a fresh client assertion for the resource AS's token endpoint, then ID-JAG -> token.
    ca_custom = build_client_assertion(AGENT_CLIENT_ID_AT_AS, custom_token_url, servers.private_jwk, AGENT_KEY_ID)
    r = exchange_id_jag_for_access_token(id_jag, ca_custom, custom_token_url)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}  # no refresh token
    assert body["token_type"] == "Bearer" and body["scope"] == OKTA_SCOPE

    # The incident desk checks the token against its authorization server's keys.
    header, claims = verified(body["access_token"], custom["jwks_uri"])
    assert header["typ"] == "at+jwt"
    assert claims["iss"] == servers.resource_as
    assert claims["sub"] == "jane@example.com"  # the IdP's user, as the desk names her
    assert claims["aud"] == INCIDENTS
    assert claims["client_id"] == AGENT_CLIENT_ID_AT_AS
    assert claims["scope"] == OKTA_SCOPE
    assert claims["act"]["sub"] == AGENT_CLIENT_ID_AT_AS
    assert claims["exp"] <= jag["exp"]

    # Both sides audited, each in its own trail; tokens themselves never are.
    (at_idp,) = audit(servers.idp, "token.issued")[-1:]
    assert at_idp["mode"] == "id_jag" and at_idp["audience"] == [servers.resource_as]
    assert at_idp["data"]["client_auth"] == "private_key_jwt"
    (at_as,) = audit(servers.resource_as, "token.issued")
    assert at_as["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert at_as["data"]["assertion_issuer"] == servers.idp and at_as["data"]["assertion_jti"] == jag["jti"]
    assert id_jag not in json.dumps(audit(servers.resource_as, "token.issued"))

    # The same ID-JAG may be presented again until it expires (with a new client assertion).
    again = build_client_assertion(AGENT_CLIENT_ID_AT_AS, custom_token_url, servers.private_jwk, AGENT_KEY_ID)
    assert exchange_id_jag_for_access_token(id_jag, again, custom_token_url).status_code == 200
    # A client assertion, though, is good once (RFC 7523 §3, pitfall 6).
    replayed = exchange_id_jag_for_access_token(id_jag, ca_custom, custom_token_url)
    assert replayed.status_code == 401 and replayed.json()["error"] == "invalid_client"


def test_the_id_jag_is_good_only_where_it_is_addressed(servers: Servers) -> None:
    org_token_url = f"{servers.idp}/token"
    custom_token_url = f"{servers.resource_as}/token"
    id_token = sign_in(servers.idp, AGENT_CLIENT_ID, "incident-agent-dev-secret", "jane", "jane-dev-password")["id_token"]
    ca_org = build_client_assertion(AGENT_CLIENT_ID, org_token_url, servers.private_jwk, AGENT_KEY_ID)
    id_jag = exchange_id_token_for_id_jag(id_token, ca_org, org_token_url, servers.resource_as).json()["access_token"]

    # Not at the IdP that issued it (it issues no access tokens for its own ID-JAGs).
    ca = build_client_assertion(AGENT_CLIENT_ID, org_token_url, servers.private_jwk, AGENT_KEY_ID)
    r = exchange_id_jag_for_access_token(id_jag, ca, org_token_url)
    assert r.status_code == 400 and r.json() == {
        "error": "invalid_grant", "error_description": "This server does not accept assertions it issued itself.",
    }

    # Not as an access token at the resource AS, nor as a token-exchange subject there.
    ca = build_client_assertion(AGENT_CLIENT_ID_AT_AS, custom_token_url, servers.private_jwk, AGENT_KEY_ID)
    r = httpx.post(custom_token_url, data={
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": id_jag,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt", "audience": INCIDENTS,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion": ca,
    })
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"

    # An id_token issued to another application is no ground for an ID-JAG (the IdP's MUST).
    r = httpx.post(f"{servers.idp}/admin/agents", headers=ADMIN, json={
        "client_id": "other-app", "status": "active", "subject_groups": ["it"],
        "redirect_uris": ["http://127.0.0.1:8400/callback"],
    })
    assert r.status_code == 201, r.text
    other_secret = r.json()["client_secret"]
    other_id_token = sign_in(servers.idp, "other-app", other_secret, "jane", "jane-dev-password")["id_token"]
    ca_org = build_client_assertion(AGENT_CLIENT_ID, org_token_url, servers.private_jwk, AGENT_KEY_ID)
    r = exchange_id_token_for_id_jag(other_id_token, ca_org, org_token_url, servers.resource_as)
    assert r.status_code == 400 and r.json() == {
        "error": "invalid_request", "error_description": "The subject token was not issued to this client.",
    }
