"""A NUL character in a name or parameter is an error for the client, never a 500.

PostgreSQL text cannot hold NUL (psycopg refuses the parameter), so on PostgreSQL the store
refuses it as ``invalid_request``; on SQLite such a name is simply unknown. Found by the admin
API's Schemathesis run in the PostgreSQL pass (``GET /admin/consents?user=%00``).
"""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from deputy.audit import verify_chain
from deputy.runtime import Deputy
from deputy.storage.audit_store import AuditFilter
from tests.conftest import AGENT
from tests.http.support import ADMIN, basic

ADMIN_PATHS = ["/admin/users/%00", "/admin/agents/a%00", "/admin/resources/%00", "/admin/issuers/%00",
               "/admin/audit?agent=%00", "/admin/audit?user=%00", "/admin/consents?user=%00"]


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_admin_lookups(raw_client: TestClient, path: str) -> None:
    assert raw_client.get(path, headers=ADMIN).status_code in (200, 400, 404)


def test_token_endpoint_refuses_and_audits_a_client_id_with_nul(deputy: Deputy, raw_client: TestClient) -> None:
    for headers, data in (
        (basic("a\x00b", "secret"), {"grant_type": "client_credentials"}),
        ({}, {"grant_type": "client_credentials", "client_id": "a\x00b", "client_secret": "secret"}),
    ):
        r = raw_client.post("/token", data=data, headers=headers)
        assert r.status_code in (400, 401), r.text
        assert r.json()["error"] in ("invalid_request", "invalid_client")
    refused = list(deputy.store.audit.records(AuditFilter(type="token.refused")))
    assert [e.event.client_id for e in refused[-2:]] == ["a\x00b", "a\x00b"]
    assert verify_chain(deputy.store.audit.records())[1] is None


def test_other_endpoints(raw_client: TestClient) -> None:
    answers = [
        raw_client.get("/authorize?client_id=%00&response_type=code&redirect_uri=x"),
        raw_client.post("/signin", data={"username": "ja\x00ne", "password": "x"}),
        raw_client.post("/introspect", data={"token": "a\x00"}, headers=basic(*AGENT)),
        raw_client.post("/revoke", data={"token": "a\x00"}, headers=basic(*AGENT)),
        raw_client.post("/bc-authorize", data={"login_hint": "ja\x00", "scope": "openid"}, headers=basic(*AGENT)),
    ]
    assert all(r.status_code < 500 for r in answers), [(r.request.url, r.status_code) for r in answers]
