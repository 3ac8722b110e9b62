"""The token endpoint on the wire: media type, client authentication, error shape, no leaks."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import pytest
from joserfc import jwt
from starlette.testclient import TestClient

from deputy.audit import AuditEvent
from deputy.protocol.request import MAX_BODY_BYTES
from deputy.runtime import Deputy
from deputy.storage.audit_store import AuditFilter
from tests.conftest import ACCESS_TOKEN_TYPE, AGENT, INCIDENTS, ISSUER, TOKEN_EXCHANGE, TRIAGE
from tests.http.support import (
    ADMIN,
    FORM,
    assert_no_leak,
    assert_oauth_error,
    basic,
    exchange,
    user_token,
)


def _refusals(deputy: Deputy) -> list[AuditEvent]:
    return [r.event for r in deputy.store.audit.records(AuditFilter(type="token.refused"))]


def _exchange_form(subject_token: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": TOKEN_EXCHANGE, "subject_token": subject_token,
        "subject_token_type": ACCESS_TOKEN_TYPE, "resource": INCIDENTS, **extra,
    }


# -- success ------------------------------------------------------------------------------------
def test_token_exchange_over_http(client: TestClient) -> None:
    subject = user_token(client, "jane", AGENT[0], ["incidents:read", "incidents:write"])
    r = exchange(client, AGENT, subject, resource=INCIDENTS, scope="incidents:read")
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["pragma"] == "no-cache"
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert body["scope"] == "incidents:read"
    assert isinstance(body["expires_in"], int) and 0 < body["expires_in"] <= 300
    header = json.loads(base64.urlsafe_b64decode(body["access_token"].split(".")[0] + "=="))
    assert header["typ"] == "at+jwt"
    claims = json.loads(base64.urlsafe_b64decode(body["access_token"].split(".")[1] + "=="))
    assert claims["iss"] == ISSUER
    assert claims["sub"] == "jane"
    assert claims["aud"] == INCIDENTS
    assert claims["client_id"] == AGENT[0]
    assert claims["act"]["sub"] == AGENT[0]
    assert claims["scope"] == "incidents:read"


def test_charset_parameter_and_case_of_media_type_are_accepted(client: TestClient) -> None:
    subject = user_token(client, "jane", AGENT[0], ["incidents:read"])
    from urllib.parse import urlencode

    for content_type in ("application/x-www-form-urlencoded; charset=UTF-8", "Application/X-WWW-Form-Urlencoded"):
        r = client.post(
            "/token", content=urlencode(_exchange_form(subject)).encode(),
            headers={"content-type": content_type, **basic(*AGENT)},
        )
        assert r.status_code == 200, (content_type, r.text)


def test_client_credentials_over_http(client: TestClient) -> None:
    r = client.post("/token", data={"grant_type": "client_credentials", "resource": INCIDENTS}, headers=basic(*TRIAGE))
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    claims = jwt.decode(r.json()["access_token"], _jwks(client)).claims
    assert claims["sub"] == TRIAGE[0]
    assert "act" not in claims


def _jwks(client: TestClient) -> Any:
    from joserfc.jwk import KeySet

    return KeySet.import_key_set(client.get("/jwks").json())


# -- media type ---------------------------------------------------------------------------------
def test_json_body_is_refused_even_when_otherwise_valid(client: TestClient, deputy: Deputy) -> None:
    subject = user_token(client, "jane", AGENT[0], ["incidents:read"])
    before = deputy.store.tokens.count()
    r = client.post("/token", json=_exchange_form(subject), headers=basic(*AGENT))
    assert_oauth_error(r, 400, "invalid_request", "unsupported_content_type")
    assert deputy.store.tokens.count() == before  # nothing was issued


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/json", "multipart/form-data; boundary=x", "application/x-www-form-urlencodedX"],
)
def test_other_media_types_are_refused(client: TestClient, content_type: str | None) -> None:
    headers = {**basic(*AGENT)}
    if content_type is not None:
        headers["content-type"] = content_type
    r = client.post("/token", content=b"grant_type=client_credentials&resource=x", headers=headers)
    assert_oauth_error(r, 400, "invalid_request", "unsupported_content_type")


# -- client authentication ----------------------------------------------------------------------
def test_client_secret_post(client: TestClient) -> None:
    subject = user_token(client, "jane", AGENT[0], ["incidents:read"])
    r = client.post("/token", data={**_exchange_form(subject, scope="incidents:read"),
                                    "client_id": AGENT[0], "client_secret": AGENT[1]})
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "incidents:read"
    r = client.post("/token", data={**_exchange_form(subject), "client_id": AGENT[0], "client_secret": "wrong-secret"})
    assert_oauth_error(r, 401, "invalid_client", "client_secret_invalid")


def test_basic_and_post_together_is_invalid_request(client: TestClient, deputy: Deputy) -> None:
    subject = user_token(client, "jane", AGENT[0], ["incidents:read"])
    before = deputy.store.tokens.count()
    r = client.post(
        "/token", data={**_exchange_form(subject), "client_id": AGENT[0], "client_secret": AGENT[1]},
        headers=basic(*AGENT),
    )
    assert_oauth_error(r, 400, "invalid_request", "client_auth_multiple")
    assert deputy.store.tokens.count() == before


def test_basic_credentials_are_form_urlencoded_before_base64(client: TestClient, deputy: Deputy) -> None:
    """RFC 6749 §2.3.1: client_id and secret are form-urlencoded, then joined and base64-encoded."""
    client_id = "ops+bot@corp.example"
    secret = "p+ss%2Bw0rd:with/odd=chars&more é"
    r = client.post(
        "/admin/agents",
        json={"client_id": client_id, "status": "active", "subject_groups": ["it"],
              "resources": [{"resource": INCIDENTS, "scopes": ["incidents:read"]}]},
        headers=ADMIN,
    )
    assert r.status_code == 201, r.text
    deputy.admin().set_secret(client_id, secret)
    subject = user_token(client, "jane", client_id, ["incidents:read"])

    r = exchange(client, (client_id, secret), subject, resource=INCIDENTS)
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "incidents:read"

    # The same credentials in the body (client_secret_post) are ordinary form parameters.
    r = client.post("/token", data={**_exchange_form(subject), "client_id": client_id, "client_secret": secret})
    assert r.status_code == 200, r.text

    # A secret that differs only where the encoding matters is refused.
    r = exchange(client, (client_id, secret.replace("+", " ")), subject, resource=INCIDENTS)
    assert_oauth_error(r, 401, "invalid_client")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


BROKEN_BASIC = {
    "no credentials": "Basic",
    "empty credentials": "Basic ",
    "not base64": "Basic !!!not-base64!!!",
    "bad padding": "Basic YWJj=",
    "no colon": "Basic " + _b64(b"incident-agent"),
    "empty client id": "Basic " + _b64(b":incident-agent-dev-secret"),
    "non-utf8 credentials": "Basic " + _b64(b"\xff\xfe\xfd:\xc3\x28"),
    "wrong secret": "Basic " + _b64(b"incident-agent:not-the-secret"),
    "unknown client": "Basic " + _b64(b"nobody:incident-agent-dev-secret"),
    "percent garbage": "Basic " + _b64(b"%ZZ%:%%%"),
}


@pytest.mark.parametrize("header", list(BROKEN_BASIC.values()), ids=list(BROKEN_BASIC))
def test_broken_basic_headers_are_invalid_client(raw_client: TestClient, header: str) -> None:
    r = raw_client.post("/token", data={"grant_type": "client_credentials", "resource": INCIDENTS},
                        headers={"Authorization": header})
    body = assert_oauth_error(r, 401, "invalid_client")
    assert body["error_description"] in ("Client authentication failed.", "Client authentication is required.")
    assert r.headers["www-authenticate"].lower().startswith("basic")


@pytest.mark.parametrize("path", ["/token", "/introspect", "/revoke"])
def test_non_ascii_authorization_header_is_invalid_client(raw_client: TestClient, path: str) -> None:
    """Header bytes outside ASCII (decoded as latin-1 by the server) are bad credentials, not a crash."""
    r = raw_client.post(
        path, content=b"grant_type=client_credentials&token=abc",
        headers={"content-type": FORM, "Authorization": b"Basic \xe9\xff\xe9=="},
    )
    assert_oauth_error(r, 401, "invalid_client")


def test_missing_client_authentication(client: TestClient) -> None:
    r = client.post("/token", data={"grant_type": "client_credentials", "resource": INCIDENTS})
    assert_oauth_error(r, 401, "invalid_client", "client_auth_missing")
    r = client.post("/token", data={"grant_type": "client_credentials", "resource": INCIDENTS, "client_id": AGENT[0]})
    assert_oauth_error(r, 401, "invalid_client")


def test_wrong_secret_detail_goes_to_audit_not_to_the_client(client: TestClient, deputy: Deputy) -> None:
    r = client.post("/token", data={"grant_type": "client_credentials", "resource": INCIDENTS},
                    headers=basic(AGENT[0], "wrong-secret-value"))
    assert_oauth_error(r, 401, "invalid_client", "client_secret_invalid")
    refused = _refusals(deputy)[-1]
    assert refused.client_id == AGENT[0]
    assert refused.reason == "client_secret_invalid"
    assert refused.detail and AGENT[0] in refused.detail
    assert_no_leak(r, refused.detail, AGENT[0], "wrong-secret-value")


def test_confused_deputy_detail_is_not_leaked(client: TestClient, deputy: Deputy) -> None:
    subject = user_token(client, "jane", AGENT[0], ["incidents:read"])  # issued to incident-agent
    r = exchange(client, TRIAGE, subject, resource=INCIDENTS)  # triage-agent tries to use it
    assert_oauth_error(r, 400, "invalid_request", "subject_token_not_for_client")
    refused = _refusals(deputy)[-1]
    assert refused.reason == "subject_token_not_for_client"
    assert refused.detail
    assert_no_leak(r, refused.detail, AGENT[0], subject)


# -- grant types and parameters -----------------------------------------------------------------
@pytest.mark.parametrize(
    "grant_type",
    # code and refresh: sign-in. Entra's "…:grant-type:jwt_bearer" is accepted as a dialect of the
    # jwt-bearer grant since issue 4 (SPECS.md §2), never advertised: tests/http/test_dialects_http.py
    ["password", "implicit", "urn:ietf:params:oauth:grant-type:jwt-bearer-x", "x" * 300],
)
def test_unsupported_grant_type(client: TestClient, grant_type: str) -> None:
    r = client.post("/token", data={"grant_type": grant_type}, headers=basic(*AGENT))
    assert_oauth_error(r, 400, "unsupported_grant_type", "unsupported_grant_type")
    assert_no_leak(r, grant_type)


def test_missing_and_duplicate_grant_type(client: TestClient) -> None:
    r = client.post("/token", data={"resource": INCIDENTS}, headers=basic(*AGENT))
    assert_oauth_error(r, 400, "invalid_request", "missing_parameter")
    r = client.post("/token", content=b"grant_type=client_credentials&grant_type=client_credentials",
                    headers={"content-type": FORM, **basic(*AGENT)})
    assert_oauth_error(r, 400, "invalid_request", "duplicate_parameter")


def test_get_is_not_allowed(raw_client: TestClient) -> None:
    r = raw_client.get("/token")
    assert r.status_code == 405
    assert_no_leak(r)


# -- hostile bodies -----------------------------------------------------------------------------
def test_body_over_64_kib_is_refused(client: TestClient, deputy: Deputy) -> None:
    subject = user_token(client, "jane", AGENT[0], ["incidents:read"])
    from urllib.parse import urlencode

    valid = urlencode(_exchange_form(subject)).encode()
    body = valid + b"&pad=" + b"a" * (MAX_BODY_BYTES + 1 - len(valid) - 5)
    assert len(body) == MAX_BODY_BYTES + 1  # one byte over
    r = client.post("/token", content=body, headers={"content-type": FORM, **basic(*AGENT)})
    assert_oauth_error(r, 400, "invalid_request", "request_too_large")

    # Trim to exactly the limit: the same request is served.
    at_limit = body[: MAX_BODY_BYTES]
    assert len(at_limit) == MAX_BODY_BYTES
    r = client.post("/token", content=at_limit, headers={"content-type": FORM, **basic(*AGENT)})
    assert r.status_code == 200, r.text

    huge = b"a=" + b"x" * (5 * MAX_BODY_BYTES)
    r = client.post("/token", content=huge, headers={"content-type": FORM, **basic(*AGENT)})
    assert_oauth_error(r, 400, "invalid_request", "request_too_large")


@pytest.mark.parametrize("path", ["/token", "/introspect", "/revoke"])
def test_non_utf8_body_is_invalid_request(client: TestClient, path: str) -> None:
    r = client.post(path, content=b"grant_type=\xff\xfe\xfd&token=\xc3\x28", headers={"content-type": FORM, **basic(*AGENT)})
    assert_oauth_error(r, 400, "invalid_request", "invalid_parameter")


def test_percent_encoded_non_utf8_is_not_a_crash(client: TestClient) -> None:
    r = client.post("/token", content=b"grant_type=%ff%fe&resource=%C3%28", headers={"content-type": FORM, **basic(*AGENT)})
    assert r.status_code == 400
    assert_no_leak(r)
    assert r.json()["error"] in ("invalid_request", "unsupported_grant_type")


def test_garbage_never_produces_a_server_error_or_a_leak(raw_client: TestClient) -> None:
    rng = random.Random(8693)
    fragments = [b"grant_type=", TOKEN_EXCHANGE.encode(), b"client_credentials", b"&", b"=", b"%", b"%zz", b"+",
                 b"subject_token=", b"eyJhbGciOiJub25lIn0.e30.", b"\x00", b"\xff", b"scope=", b"\"\\", b"resource=",
                 b"audience=", b"actor_token_type=", b"client_secret=", b"client_id=incident-agent", b";", b"\r\n"]
    auths: list[dict[str, Any]] = [{}, basic(*AGENT), {"Authorization": "Basic " + _b64(rng.randbytes(20))},
                                   {"Authorization": "Bearer " + "x" * 50}]
    for _ in range(150):
        body = b"".join(rng.choice(fragments) if rng.random() < 0.7 else rng.randbytes(rng.randint(1, 12))
                        for _ in range(rng.randint(0, 30)))
        headers = {"content-type": rng.choice([FORM, FORM, "application/json", "text/plain"]), **rng.choice(auths)}
        path = rng.choice(["/token", "/introspect", "/revoke"])
        r = raw_client.post(path, content=body, headers=headers)
        assert r.status_code in (200, 400, 401), (path, body, r.status_code, r.text)
        assert_no_leak(r)
        if r.status_code != 200:
            assert set(r.json()) == {"error", "error_description"}, r.text
            assert r.headers["cache-control"] == "no-store"
