"""Human approval on the wire: POST /bc-authorize, polling /token with the ciba grant, the
discovery members, and the admin API marking scopes for approval."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from starlette.testclient import TestClient

from deputy.clock import FixedClock
from deputy.constants import GRANT_CIBA
from deputy.runtime import Deputy
from tests.conftest import AGENT, INCIDENTS, ISSUER, TRIAGE
from tests.http.support import ADMIN, assert_no_leak, assert_oauth_error, basic
from tests.protocol.ciba_support import APPROVAL_SCOPE, require_approval, stored


@pytest.fixture(autouse=True)
def approval_marked(deputy: Deputy) -> None:
    require_approval(deputy, APPROVAL_SCOPE)


def _bc(client: TestClient, auth: tuple[str, str] = AGENT, **params: Any) -> Any:
    data = {"login_hint": "jane", "scope": "openid incidents:write", "resource": INCIDENTS,
            "binding_message": "Close INC-42", **params}
    return client.post("/bc-authorize", data={k: v for k, v in data.items() if v is not None}, headers=basic(*auth))


def _poll(client: TestClient, auth_req_id: str, auth: tuple[str, str] = AGENT) -> Any:
    return client.post("/token", data={"grant_type": GRANT_CIBA, "auth_req_id": auth_req_id}, headers=basic(*auth))


def test_discovery_advertises_poll_mode(client: TestClient) -> None:
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        meta = client.get(path).json()
        assert meta["backchannel_authentication_endpoint"] == f"{ISSUER}/bc-authorize"
        assert meta["backchannel_token_delivery_modes_supported"] == ["poll"]
        assert meta["backchannel_user_code_parameter_supported"] is False
        assert GRANT_CIBA in meta["grant_types_supported"]


def test_the_whole_flow_on_the_wire(client: TestClient, deputy: Deputy, clock: FixedClock) -> None:
    r = _bc(client)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert set(body) == {"auth_req_id", "expires_in", "interval"} and body["interval"] == 5
    clock.advance(5)
    assert_oauth_error(_poll(client, body["auth_req_id"]), 400, "authorization_pending", "authorization_pending")
    assert_oauth_error(_poll(client, body["auth_req_id"]), 400, "slow_down", "slow_down")
    assert_oauth_error(_poll(client, body["auth_req_id"], TRIAGE), 400, "invalid_grant", "auth_req_id_invalid")
    request_id = deputy.approvals.pending("jane")[0].request_id
    deputy.approvals.decide(request_id, "jane", True, via="test")
    clock.advance(10)
    r = _poll(client, body["auth_req_id"])
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    token = r.json()
    assert token["scope"] == APPROVAL_SCOPE and token["token_type"] == "Bearer"
    introspected = client.post("/introspect", data={"token": token["access_token"]}, headers=basic(*AGENT)).json()
    assert introspected["active"] is True and introspected["sub"] == "jane"
    assert introspected["act"]["sub"] == "incident-agent" and introspected["aud"] == INCIDENTS
    assert_oauth_error(_poll(client, body["auth_req_id"]), 400, "invalid_grant", "auth_req_id_used")


def test_denial_and_expiry_on_the_wire(client: TestClient, deputy: Deputy, clock: FixedClock) -> None:
    denied = _bc(client).json()["auth_req_id"]
    expiring = _bc(client, requested_expiry="30").json()["auth_req_id"]
    deputy.approvals.decide(stored(deputy, denied).request_id, "jane", False, via="test")
    clock.advance(30)
    assert_oauth_error(_poll(client, denied), 400, "access_denied", "approval_denied")
    assert_oauth_error(_poll(client, expiring), 400, "expired_token", "auth_req_id_expired")


@pytest.mark.parametrize(
    ("params", "status", "error", "reason"),
    [
        ({"login_hint": "nobody"}, 400, "unknown_user_id", "unknown_user"),
        ({"login_hint": None}, 400, "invalid_request", "hint_missing"),
        ({"binding_message": "a\u0000b"}, 400, "invalid_binding_message", "binding_message_invalid"),
        ({"binding_message": "x" * 300}, 400, "invalid_binding_message", "binding_message_invalid"),
        ({"requested_expiry": "1e9"}, 400, "invalid_request", "requested_expiry_invalid"),
        ({"resource": "https://unknown.example"}, 400, "invalid_target", "target_unknown"),
        ({"scope": "hr:read"}, 400, "invalid_scope", "scope_empty"),
    ],
)
def test_refusals_on_the_wire(client: TestClient, params: dict[str, Any], status: int, error: str, reason: str) -> None:
    r = _bc(client, **params)
    assert_oauth_error(r, status, error, reason)
    assert_no_leak(r, "nobody", "U+0000")


def test_bad_client_is_401_and_not_delegated_is_403(client: TestClient, deputy: Deputy) -> None:
    r = client.post("/bc-authorize", data={"login_hint": "jane", "scope": APPROVAL_SCOPE, "resource": INCIDENTS},
                    headers=basic("incident-agent", "wrong"))
    assert_oauth_error(r, 401, "invalid_client")
    admin = deputy.admin("test")
    jane = deputy.store.realm.get_user("jane")
    assert jane is not None
    admin.put_user(replace(jane, groups=("nobody-group",)))
    assert_oauth_error(_bc(client), 403, "access_denied", "subject_not_delegated")


def test_wrong_content_type_and_method(client: TestClient) -> None:
    r = client.post("/bc-authorize", json={"login_hint": "jane"}, headers=basic(*AGENT))
    assert_oauth_error(r, 400, "invalid_request", "unsupported_content_type")
    assert client.get("/bc-authorize").status_code == 405


def test_admin_api_marks_scopes_for_approval(client: TestClient) -> None:
    resource = {"identifier": "https://hr.example", "scopes": ["hr:read", "hr:write"], "approval_scopes": ["hr:write"]}
    r = client.post("/admin/resources", json=resource, headers=ADMIN)
    assert r.status_code in (200, 201), r.text
    got = client.get("/admin/resources/https%3A%2F%2Fhr.example", headers=ADMIN).json()
    assert got["approval_scopes"] == ["hr:write"]
    bad = client.post("/admin/resources", json={**resource, "approval_scopes": ["hr:delete"]}, headers=ADMIN)
    assert bad.status_code == 400 and "approval_scopes" in bad.json()["error_description"]


def test_exchange_on_the_wire_never_yields_the_approval_scope(client: TestClient, deputy: Deputy) -> None:
    subject = deputy.admin("test").issue_user_token("jane", "incident-agent")
    r = client.post("/token", headers=basic(*AGENT), data={
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": subject,
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token", "resource": INCIDENTS,
        "scope": APPROVAL_SCOPE,
    })
    assert_oauth_error(r, 400, "invalid_scope", "approval_required")
