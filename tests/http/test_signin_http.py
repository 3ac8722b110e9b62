"""The sign-in pages over HTTP: headers, cookies, CSRF, errors shown or redirected, grants,
logout, userinfo, dynamic registration, discovery."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from httpx import Response
from starlette.testclient import TestClient

from deputy.admin.realm_file import load_realm, read_realm_file
from deputy.clock import FixedClock
from deputy.config import Settings
from deputy.http import create_app
from deputy.runtime import Deputy
from tests.conftest import ADMIN_TOKEN, AGENT, DEV_REALM, INCIDENTS, ISSUER
from tests.http.support import ADMIN, basic, exchange, introspect
from tests.protocol.sign_in_support import REDIRECT, authorize_pairs, pkce, query_of


def field(response: Response, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', response.text)
    assert match, f"no {name} in the page"
    return html.unescape(match.group(1))


def start(client: TestClient, **params: str | None) -> tuple[Response, str]:
    verifier, challenge = pkce()
    r = client.get("/authorize", params=authorize_pairs(challenge, **params), follow_redirects=False)
    return r, verifier


def sign_in(client: TestClient, page: Response, username: str = "jane", password: str = "jane-dev-password") -> Response:
    data = {"csrf_token": field(page, "csrf_token"), "username": username, "password": password}
    if 'name="authorize"' in page.text:
        data["authorize"] = field(page, "authorize")
    return client.post("/signin", data=data, follow_redirects=False)


def approve(client: TestClient, page: Response, decision: str = "approve") -> Response:
    data = {"csrf_token": field(page, "csrf_token"), "authorize": field(page, "authorize"), "decision": decision}
    return client.post("/authorize/consent", data=data, follow_redirects=False)


def code_from(r: Response) -> str:
    assert r.status_code in (302, 303), r.text
    location = r.headers["location"]
    assert location.startswith(REDIRECT + "?")
    query = query_of(location)
    assert query["iss"] == ISSUER and query["state"] == "s-123"
    return query["code"]


def full_flow(client: TestClient, **params: str | None) -> tuple[str, str]:
    page, verifier = start(client, **params)
    consent = sign_in(client, page)
    assert consent.status_code == 200 and "Allow" in consent.text
    return code_from(approve(client, consent)), verifier


def assert_page_headers(r: Response) -> None:
    assert r.headers["x-frame-options"] == "DENY"
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp and "script-src" not in csp
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["content-type"].startswith("text/html")


def test_the_flow_over_http(client: TestClient) -> None:
    page, verifier = start(client)
    assert page.status_code == 200
    assert_page_headers(page)
    assert '<label for="username">' in page.text and '<label for="password">' in page.text
    consent = sign_in(client, page)
    assert_page_headers(consent)
    assert "Incident agent" in consent.text and "Jane Doe" in consent.text and "Incident desk" in consent.text
    assert "90 days" in consent.text
    session_cookie = consent.headers["set-cookie"]
    assert "deputy_session=" in session_cookie and "HttpOnly" in session_cookie
    assert "samesite=lax" in session_cookie.lower() and "Secure" not in session_cookie  # http loopback issuer
    code = code_from(approve(client, consent))
    r = client.post(
        "/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier},
        headers=basic(*AGENT),
    )
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert {"access_token", "id_token", "refresh_token", "expires_in", "scope", "token_type"} <= set(body)
    info = client.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 200 and info.json()["sub"] == "jane"
    # a second authorization with the session and the remembered consent goes straight back
    again, _ = start(client)
    code_from(again)


def test_csrf_token_missing_on_consent_is_refused(client: TestClient) -> None:
    page, _ = start(client)
    consent = sign_in(client, page)
    for token in (None, "forged", field(consent, "csrf_token") + "x"):
        data = {"authorize": field(consent, "authorize"), "decision": "approve"}
        if token is not None:
            data["csrf_token"] = token
        r = client.post("/authorize/consent", data=data, follow_redirects=False)
        assert r.status_code == 403
        assert "location" not in r.headers
    assert client.app.state.deputy.store.consents.list_consents("jane") == []  # type: ignore[attr-defined]


def test_consent_from_another_browser_session_is_refused(client: TestClient, app: Any) -> None:
    page, _ = start(client)
    consent = sign_in(client, page)
    with TestClient(app) as attacker:
        attacker_page, _ = start(attacker)
        sign_in(attacker, attacker_page, "bob", "bob-dev-password")
        data = {"csrf_token": field(consent, "csrf_token"), "authorize": field(consent, "authorize"), "decision": "approve"}
        assert attacker.post("/authorize/consent", data=data, follow_redirects=False).status_code == 403


def test_sign_in_form_needs_its_csrf_token(client: TestClient) -> None:
    page, _ = start(client)
    r = client.post("/signin", data={"username": "jane", "password": "jane-dev-password", "authorize": field(page, "authorize")})
    assert r.status_code == 400 and "deputy_session" not in r.headers.get("set-cookie", "")


def test_wrong_password_is_a_generic_error(client: TestClient) -> None:
    page, _ = start(client)
    wrong = sign_in(client, page, password="nope")
    unknown = sign_in(client, page, username="nobody", password="nope")
    assert wrong.status_code == unknown.status_code == 401
    assert "Sign-in failed" in wrong.text and "Sign-in failed" in unknown.text
    assert 'role="alert"' in wrong.text


def test_lock_out_over_http(client: TestClient, deputy: Deputy) -> None:
    page, _ = start(client)
    for _ in range(deputy.settings.signin_max_failures):
        assert sign_in(client, page, password="guess").status_code == 401
    assert sign_in(client, page).status_code == 401  # locked: even the right password
    types = [r.event.type for r in deputy.store.audit.records()]
    assert types.count("user.signin_failed") == deputy.settings.signin_max_failures + 1
    assert types.count("user.locked") == 1


def test_deny_goes_back_with_access_denied(client: TestClient) -> None:
    page, _ = start(client)
    r = approve(client, sign_in(client, page), decision="deny")
    query = query_of(r.headers["location"])
    assert query["error"] == "access_denied" and query["state"] == "s-123" and query["iss"] == ISSUER


@pytest.mark.parametrize(
    "params",
    [{"redirect_uri": "https://attacker.example/cb"}, {"client_id": "nobody"}, {"redirect_uri": None}],
)
def test_client_errors_are_shown_not_redirected(client: TestClient, params: dict[str, str | None]) -> None:
    r, _ = start(client, **params)
    assert r.status_code in (400, 401)
    assert "location" not in r.headers
    assert_page_headers(r)
    assert "attacker.example" not in r.text


def test_other_errors_are_redirected(client: TestClient) -> None:
    r, _ = start(client, code_challenge_method="plain")
    assert r.status_code == 302
    query = query_of(r.headers["location"])
    assert query["error"] == "invalid_request" and query["state"] == "s-123" and query["iss"] == ISSUER


def test_post_to_authorize(client: TestClient) -> None:
    _, challenge = pkce()
    r = client.post("/authorize", data=dict(authorize_pairs(challenge)))
    assert r.status_code == 200 and 'name="password"' in r.text


def test_html_is_escaped(client: TestClient, deputy: Deputy) -> None:
    from dataclasses import replace

    admin = deputy.admin("test")
    agent = admin.get_agent("incident-agent")
    admin.update_agent(replace(agent, name="<script>alert(1)</script>"))
    page, _ = start(client)
    consent = sign_in(client, page)
    assert "<script>alert(1)</script>" not in consent.text and "&lt;script&gt;" in consent.text


def test_grants_page_lists_and_withdraws(client: TestClient, deputy: Deputy) -> None:
    code, verifier = full_flow(client)
    token = client.post(
        "/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier},
        headers=basic(*AGENT),
    ).json()["access_token"]
    exchanged = exchange(client, AGENT, token, resource=INCIDENTS).json()["access_token"]
    page = client.get("/account/grants")
    assert page.status_code == 200 and "Incident agent" in page.text
    assert_page_headers(page)
    action = re.search(r'action="([^"]+/withdraw)"', page.text)
    assert action
    path = urlsplit(html.unescape(action.group(1))).path
    assert client.post(path, data={"csrf_token": ""}, follow_redirects=False).status_code == 403
    r = client.post(path, data={"csrf_token": field(page, "csrf_token")}, follow_redirects=False)
    assert r.status_code == 303
    assert introspect(client, AGENT, token) == {"active": False}
    assert introspect(client, AGENT, exchanged) == {"active": False}
    assert "No app or agent may act for you" in client.get("/account/grants").text


def test_grants_page_needs_sign_in(client: TestClient) -> None:
    r = client.get("/account/grants", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("/signin?next=/account/grants")
    page = client.get("/signin?next=/account/grants")
    r = sign_in(client, page)
    assert r.status_code == 303 and r.headers["location"] == f"{ISSUER}/account/grants"


def test_logout(client: TestClient) -> None:
    page, _ = start(client)
    sign_in(client, page)
    confirm = client.get("/logout", params={"client_id": "incident-agent", "post_logout_redirect_uri": REDIRECT, "state": "bye"})
    assert confirm.status_code == 200 and "Sign out of Deputy?" in confirm.text
    assert client.post("/logout", data={"post_logout_redirect_uri": REDIRECT, "client_id": "incident-agent"}).status_code == 403
    r = client.post(
        "/logout", data={"csrf_token": field(confirm, "csrf_token"), "post_logout_redirect_uri": REDIRECT,
                         "client_id": "incident-agent", "state": "bye"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == REDIRECT + "?state=bye"
    again, _ = start(client)
    assert 'name="password"' in again.text  # signed out: the next authorization asks to sign in


def test_logout_refuses_unregistered_post_logout_redirect(client: TestClient) -> None:
    r = client.get("/logout", params={"client_id": "incident-agent", "post_logout_redirect_uri": "https://attacker.example/"},
                   follow_redirects=False)
    assert r.status_code == 400 and "location" not in r.headers


def test_logout_with_id_token_hint(client: TestClient) -> None:
    code, verifier = full_flow(client)
    id_token = client.post(
        "/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier},
        headers=basic(*AGENT),
    ).json()["id_token"]
    confirm = client.get("/logout", params={"id_token_hint": id_token, "post_logout_redirect_uri": REDIRECT})
    assert confirm.status_code == 200 and field(confirm, "client_id") == "incident-agent"


def test_userinfo_errors_carry_a_bearer_challenge(client: TestClient) -> None:
    r = client.get("/userinfo")
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    assert r.json()["error"] == "invalid_token"


def test_discovery_for_sign_in(client: TestClient) -> None:
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        meta = client.get(path).json()
        assert meta["authorization_endpoint"] == f"{ISSUER}/authorize"
        assert meta["userinfo_endpoint"] == f"{ISSUER}/userinfo"
        assert meta["end_session_endpoint"] == f"{ISSUER}/logout"
        assert meta["response_types_supported"] == ["code"]
        assert meta["code_challenge_methods_supported"] == ["S256"]
        assert meta["authorization_response_iss_parameter_supported"] is True
        assert {"authorization_code", "refresh_token"} <= set(meta["grant_types_supported"])
        assert {"openid", "profile", "email", "incidents:read"} <= set(meta["scopes_supported"])
        assert {"sub", "iss", "nonce", "auth_time"} <= set(meta["claims_supported"])
        assert meta["subject_types_supported"] == ["public"]
        assert meta["id_token_signing_alg_values_supported"] == ["ES256"]
        assert "registration_endpoint" not in meta
    assert client.post("/register", json={"redirect_uris": ["https://a.example/cb"]}).status_code == 404


@pytest.fixture
def registration_client(tmp_path: Path, clock: FixedClock) -> Iterator[TestClient]:
    settings = Settings(issuer=ISSUER, home=tmp_path / "reg", admin_token=ADMIN_TOKEN, dynamic_registration=True)
    instance = Deputy.open(settings, clock)
    load_realm(instance.admin("test"), read_realm_file(DEV_REALM))
    with TestClient(create_app(instance, ADMIN_TOKEN)) as test_client:
        yield test_client
    instance.close()


def test_dynamic_registration(registration_client: TestClient) -> None:
    client = registration_client
    assert client.get("/.well-known/openid-configuration").json()["registration_endpoint"] == f"{ISSUER}/register"
    r = client.post("/register", json={"redirect_uris": [REDIRECT], "client_name": "MCP client",
                                       "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "refresh_token"]})
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["client_id"].startswith("dyn-") and "client_secret" not in body
    assert body["token_endpoint_auth_method"] == "none" and body["redirect_uris"] == [REDIRECT]
    agent = client.get(f"/admin/agents/{body['client_id']}", headers=ADMIN).json()
    assert agent["status"] == "staged" and agent["public_client"] is True
    # staged: the authorization request is refused on a page until an administrator activates it
    r, _ = start(client, client_id=body["client_id"])
    assert r.status_code == 400 or r.status_code == 401
    confidential = client.post("/register", json={"redirect_uris": ["https://app.example/cb"]}).json()
    assert confidential["client_secret"] and confidential["client_secret_expires_at"] == 0


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"redirect_uris": ["http://evil.example/cb"]}, "invalid_redirect_uri"),
        ({}, "invalid_redirect_uri"),
        ({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_jwt"}, "invalid_client_metadata"),
    ],
)
def test_dynamic_registration_errors(registration_client: TestClient, body: dict[str, Any], error: str) -> None:
    r = registration_client.post("/register", json=body)
    assert r.status_code == 400 and r.json()["error"] == error


def test_registration_needs_json(registration_client: TestClient) -> None:
    r = registration_client.post("/register", data={"redirect_uris": REDIRECT})
    assert r.status_code == 400 and r.json()["error"] == "invalid_client_metadata"


def test_admin_api_consents_and_password(client: TestClient) -> None:
    full_flow(client)
    listed = client.get("/admin/consents", params={"user": "jane"}, headers=ADMIN).json()
    assert len(listed) == 1 and listed[0]["client_id"] == "incident-agent"
    consent_id = listed[0]["consent_id"]
    r = client.post(f"/admin/consents/{consent_id}/withdraw", headers=ADMIN)
    assert r.status_code == 200 and r.json() == {"revoked": 0}
    assert client.get("/admin/consents", params={"user": "jane"}, headers=ADMIN).json() == []
    assert len(client.get("/admin/consents", params={"user": "jane", "all": "true"}, headers=ADMIN).json()) == 1
    assert client.post("/admin/consents/nope/withdraw", headers=ADMIN).status_code == 404
    r = client.put("/admin/users/bob/password", json={"password": "bobs-new-password"}, headers=ADMIN)
    assert r.status_code == 200
    assert client.put("/admin/users/bob/password", json={"password": "short"}, headers=ADMIN).status_code == 400
    assert client.put("/admin/users/bob/password", json={"password": "bobs-new-password"}).status_code == 401
