"""The vendor dialects on the wire: metadata, Entra on-behalf-of, ID-JAG issuance, error format."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from deputy.runtime import Deputy
from tests.conftest import AGENT, INCIDENTS
from tests.http.support import ADMIN, assert_no_leak, assert_oauth_error, basic, user_token
from tests.protocol.dialect_support import (
    ID_JAG_TYPE,
    JWT_BEARER,
    JWT_BEARER_UNDERSCORE,
    PARTNER,
    add_partner,
)
from tests.protocol.test_id_jag_issuance import own_id_token

WELL_KNOWN = ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]


@pytest.mark.parametrize("path", WELL_KNOWN)
def test_metadata_advertises_both_sides_of_cross_app_access(client: TestClient, path: str) -> None:
    meta = client.get(path).json()
    assert JWT_BEARER in meta["grant_types_supported"]
    assert JWT_BEARER_UNDERSCORE not in meta["grant_types_supported"]  # accepted, never emitted
    assert meta["authorization_grant_profiles_supported"] == ["urn:ietf:params:oauth:grant-profile:id-jag"]
    assert meta["identity_chaining_requested_token_types_supported"] == [ID_JAG_TYPE]
    assert ID_JAG_TYPE in meta["token_exchange_requested_token_types_supported"]
    assert "urn:ietf:params:oauth:token-type:id_token" in meta["token_exchange_subject_token_types_supported"]
    assert "urn:ietf:params:oauth:token-type:id-jag" not in meta["token_exchange_subject_token_types_supported"]
    assert not any("id_jag" in str(v) for v in meta.values())


@pytest.mark.parametrize("grant_type", [JWT_BEARER, JWT_BEARER_UNDERSCORE])
def test_on_behalf_of_with_the_secret_in_the_body(client: TestClient, grant_type: str) -> None:
    """The request an Entra client (MSAL, AgentCore's credential provider) sends."""
    assertion = user_token(client, "jane", AGENT[0])
    r = client.post("/token", data={
        "grant_type": grant_type, "client_id": AGENT[0], "client_secret": AGENT[1], "assertion": assertion,
        "scope": f"{INCIDENTS}/.default", "requested_token_use": "on_behalf_of",
    })
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert set(body) == {"token_type", "scope", "expires_in", "ext_expires_in", "access_token"}
    assert body["scope"] == f"{INCIDENTS}/incidents:read {INCIDENTS}/incidents:write"


def test_on_behalf_of_refusals_on_the_wire(client: TestClient) -> None:
    for_triage = user_token(client, "jane", "triage-agent")
    r = client.post("/token", data={
        "grant_type": JWT_BEARER, "assertion": for_triage, "scope": f"{INCIDENTS}/.default",
        "requested_token_use": "on_behalf_of",
    }, headers=basic(*AGENT))
    assert_oauth_error(r, 400, "invalid_grant", "subject_token_not_for_client")
    assert_no_leak(r, for_triage, "triage-agent")
    r = client.post("/token", data={"grant_type": JWT_BEARER, "assertion": "x.y.z"}, headers=basic(*AGENT))
    assert_oauth_error(r, 400, "invalid_grant", "assertion_invalid")


def test_id_jag_on_the_wire(client: TestClient, deputy: Deputy) -> None:
    add_partner(deputy)
    r = client.post("/token", data={
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "requested_token_type": ID_JAG_TYPE,
        "subject_token": own_id_token(deputy), "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "audience": PARTNER, "scope": "incidents:read",
    }, headers=basic(*AGENT))
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "N_A" and body["issued_token_type"] == ID_JAG_TYPE and "refresh_token" not in body
    audit = client.get("/admin/audit", params={"type": "token.issued"}, headers=ADMIN).json()
    assert audit[0]["mode"] == "id_jag" and body["access_token"] not in str(audit)
