"""Token introspection (RFC 7662) on the wire."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from starlette.testclient import TestClient

from deputy.clock import FixedClock
from tests.conftest import AGENT, INCIDENTS, ISSUER, TRIAGE
from tests.http.support import ADMIN, assert_oauth_error, basic, exchanged, introspect, user_token


def test_active_delegated_token(client: TestClient) -> None:
    subject = user_token(client, "jane", AGENT[0], ["incidents:read"])
    token = exchanged(client, AGENT, subject, resource=INCIDENTS, scope="incidents:read")
    body = introspect(client, TRIAGE, token)
    assert body["active"] is True
    assert body["sub"] == "jane"
    assert body["aud"] == INCIDENTS
    assert body["scope"] == "incidents:read"
    assert body["act"]["sub"] == AGENT[0]
    assert body["client_id"] == AGENT[0]
    assert body["iss"] == ISSUER
    assert body["token_type"] == "Bearer"
    assert body["exp"] > body["iat"]
    assert isinstance(body["jti"], str) and body["jti"]


def test_two_level_chain_is_reported_with_nested_act(client: TestClient) -> None:
    subject = user_token(client, "jane", AGENT[0], ["incidents:read"])
    middle = exchanged(client, AGENT, subject, audience="triage-agent")
    last = exchanged(client, TRIAGE, middle, resource=INCIDENTS)
    body = introspect(client, AGENT, last)
    assert body["active"] is True
    assert body["sub"] == "jane"
    assert body["act"]["sub"] == TRIAGE[0]  # the current actor is outermost
    assert body["act"]["act"]["sub"] == AGENT[0]  # prior actors nest inside
    assert "act" not in body["act"]["act"]


def _foreign_token() -> str:
    """Looks like ours in every claim but is signed by a key Deputy does not know."""
    key = ECKey.generate_key("P-256", parameters={"kid": "attacker"}, private=True)
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "jane", "aud": INCIDENTS, "client_id": AGENT[0], "jti": "forged-jti",
              "iat": now, "exp": now + 300, "scope": "incidents:read"}
    return jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": "attacker"}, claims, key)


@pytest.mark.parametrize(
    "token",
    ["unknown-token", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJqYW5lIn0.", "x" * 20000, "\u00e9\u00e9", "   "],
    ids=["opaque", "three-dots", "alg-none", "huge", "non-ascii", "spaces"],
)
def test_unknown_or_garbage_token_is_exactly_inactive(client: TestClient, token: str) -> None:
    assert introspect(client, AGENT, token) == {"active": False}


def test_forged_token_is_inactive(client: TestClient) -> None:
    assert introspect(client, AGENT, _foreign_token()) == {"active": False}


def test_tampered_token_is_inactive(client: TestClient) -> None:
    subject = user_token(client, "jane", AGENT[0], ["incidents:read"])
    token = exchanged(client, AGENT, subject, resource=INCIDENTS)
    assert introspect(client, AGENT, token)["active"] is True
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    assert introspect(client, AGENT, f"{header}.{payload}.{flipped}") == {"active": False}


def test_expired_token_is_inactive(client: TestClient, clock: FixedClock) -> None:
    subject = user_token(client, "jane", AGENT[0], ["incidents:read"])
    token = exchanged(client, AGENT, subject, resource=INCIDENTS)
    assert introspect(client, AGENT, token)["active"] is True
    clock.advance(301)
    assert introspect(client, AGENT, token) == {"active": False}


def test_revoked_token_is_inactive(client: TestClient) -> None:
    subject = user_token(client, "jane", AGENT[0], ["incidents:read"])
    token = exchanged(client, AGENT, subject, resource=INCIDENTS)
    jti = introspect(client, AGENT, token)["jti"]
    r = client.post(f"/admin/tokens/{jti}/revoke", headers=ADMIN)
    assert r.status_code == 200 and r.json() == {"revoked": 1}
    assert introspect(client, AGENT, token) == {"active": False}


def test_disabled_user_makes_token_inactive(client: TestClient) -> None:
    subject = user_token(client, "jane", AGENT[0], ["incidents:read"])
    token = exchanged(client, AGENT, subject, resource=INCIDENTS)
    assert introspect(client, AGENT, token)["active"] is True
    r = client.put("/admin/users/jane", json={"groups": ["it"], "disabled": True}, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert introspect(client, AGENT, token) == {"active": False}


def test_introspection_requires_client_authentication(client: TestClient) -> None:
    subject = user_token(client, "jane", AGENT[0], ["incidents:read"])
    r = client.post("/introspect", data={"token": subject})
    assert_oauth_error(r, 401, "invalid_client")
    r = client.post("/introspect", data={"token": subject}, headers=basic(AGENT[0], "wrong-secret"))
    body = assert_oauth_error(r, 401, "invalid_client")
    assert "active" not in body


def test_introspection_refuses_json_and_missing_token(client: TestClient) -> None:
    r = client.post("/introspect", json={"token": "x"}, headers=basic(*AGENT))
    assert_oauth_error(r, 400, "invalid_request", "unsupported_content_type")
    r = client.post("/introspect", data={"token_type_hint": "access_token"}, headers=basic(*AGENT))
    assert_oauth_error(r, 400, "invalid_request")
