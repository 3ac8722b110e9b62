"""Token revocation (RFC 7009) on the wire, and its cascade down exchange chains."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.testclient import TestClient

from deputy.runtime import Deputy
from deputy.storage.audit_store import AuditFilter
from tests.conftest import AGENT, INCIDENTS, TRIAGE
from tests.http.support import assert_oauth_error, basic, exchanged, introspect, user_token


def _revoke(client: TestClient, auth: tuple[str, str], token: str, **extra: str) -> None:
    r = client.post("/revoke", data={"token": token, **extra}, headers=basic(*auth))
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    assert r.json() == {}


def _chain(client: TestClient) -> tuple[str, str, str]:
    """user → incident-agent → triage-agent → incidents."""
    user = user_token(client, "jane", AGENT[0], ["incidents:read"])
    middle = exchanged(client, AGENT, user, audience="triage-agent")
    last = exchanged(client, TRIAGE, middle, resource=INCIDENTS)
    for token in (user, middle, last):
        assert introspect(client, AGENT, token)["active"] is True
    return user, middle, last


def test_revoking_the_middle_of_a_chain_cascades_down_only(client: TestClient) -> None:
    user, middle, last = _chain(client)
    _revoke(client, AGENT, middle)
    assert introspect(client, AGENT, middle) == {"active": False}
    assert introspect(client, TRIAGE, last) == {"active": False}
    assert introspect(client, AGENT, user)["active"] is True  # the parent is untouched
    # ...and a revoked link can no longer be exchanged.
    r = client.post("/token", data={
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": middle,
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token", "resource": INCIDENTS,
    }, headers=basic(*TRIAGE))
    assert_oauth_error(r, 400, "invalid_request", "subject_token_revoked")


def test_revoking_the_root_cascades_to_all(client: TestClient) -> None:
    user, middle, last = _chain(client)
    _revoke(client, AGENT, user, token_type_hint="refresh_token")  # a wrong hint is only a hint
    for token in (user, middle, last):
        assert introspect(client, AGENT, token) == {"active": False}


def test_receiving_agent_may_revoke_a_token_issued_for_it(client: TestClient) -> None:
    _, middle, last = _chain(client)
    _revoke(client, TRIAGE, middle)  # aud=triage-agent
    assert introspect(client, AGENT, last) == {"active": False}


@pytest.mark.parametrize("token", ["not-a-token", "a.b.c", "", "x" * 20000])
def test_invalid_tokens_get_200(client: TestClient, token: str) -> None:
    r = client.post("/revoke", data={"token": token}, headers=basic(*AGENT))
    if token == "":
        # An empty value counts as omitted (RFC 6749 §3.1): the request itself is malformed.
        assert_oauth_error(r, 400, "invalid_request")
    else:
        assert r.status_code == 200 and r.json() == {}


def test_token_signed_by_another_issuer_gets_200(client: TestClient) -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "elsewhere"}, private=True)
    now = int(time.time())
    foreign = jwt.encode(
        {"alg": "RS256", "typ": "at+jwt", "kid": "elsewhere"},
        {"iss": "https://elsewhere.example", "sub": "jane", "aud": AGENT[0], "client_id": AGENT[0],
         "jti": "foreign", "iat": now, "exp": now + 60}, key,
    )
    _revoke(client, AGENT, foreign)


def test_another_clients_token_gets_200_but_stays_active(client: TestClient, deputy: Deputy) -> None:
    """Not the owner: same answer (no probing), no effect, and an audit record of the attempt."""
    bob = user_token(client, "bob", AGENT[0], ["incidents:read"])  # issued to incident-agent
    _revoke(client, TRIAGE, bob)
    assert introspect(client, AGENT, bob)["active"] is True
    refused = list(deputy.store.audit.records(AuditFilter(type="token.revocation_refused")))
    assert len(refused) == 1
    assert refused[0].event.client_id == TRIAGE[0]
    assert refused[0].event.outcome == "failure"
    # The owner can.
    _revoke(client, AGENT, bob)
    assert introspect(client, AGENT, bob) == {"active": False}
    revoked = list(deputy.store.audit.records(AuditFilter(type="token.revoked")))
    assert [r.event.subject for r in revoked] == ["bob"]


def test_revoking_twice_is_fine(client: TestClient) -> None:
    user = user_token(client, "jane", AGENT[0], ["incidents:read"])
    _revoke(client, AGENT, user)
    _revoke(client, AGENT, user)
    assert introspect(client, AGENT, user) == {"active": False}


def test_revocation_requires_client_authentication(client: TestClient) -> None:
    user = user_token(client, "jane", AGENT[0], ["incidents:read"])
    r = client.post("/revoke", data={"token": user})
    assert_oauth_error(r, 401, "invalid_client")
    r = client.post("/revoke", data={"token": user}, headers=basic(AGENT[0], "not-the-secret"))
    assert_oauth_error(r, 401, "invalid_client")
    assert introspect(client, AGENT, user)["active"] is True
    r = client.post("/revoke", json={"token": user}, headers=basic(*AGENT))
    assert_oauth_error(r, 400, "invalid_request", "unsupported_content_type")
    assert introspect(client, AGENT, user)["active"] is True
