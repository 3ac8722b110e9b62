"""The admin API for partner authorization servers: /admin/partners and /admin/partners/{issuer}."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.testclient import TestClient

from tests.http.support import ADMIN

PARTNER = "https://auth.saas.example/oauth2/default"
BODY: dict[str, Any] = {
    "issuer": PARTNER,
    "agent_clients": {"incident-agent": "0oa8f5j3ecb5w3dF35d7"},
    "scopes": ["xaa:read"],
}


def path(issuer: str) -> str:
    return "/admin/partners/" + quote(issuer, safe="")


def test_create_read_list_delete(client: TestClient) -> None:
    assert client.get("/admin/partners", headers=ADMIN).json() == []
    r = client.post("/admin/partners", json=BODY, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    view = r.json()
    assert view == {**BODY, "name": "", "resources": [], "signing_alg": "RS256"}
    assert client.get("/admin/partners", headers=ADMIN).json() == [view]
    assert client.get(path(PARTNER), headers=ADMIN).json() == view
    assert client.get("/admin/realm", headers=ADMIN).json()["partners"] == [view]
    changed = client.post("/admin/partners", json={**BODY, "scopes": ["xaa:read", "xaa:write"]}, headers=ADMIN)
    assert changed.json()["scopes"] == ["xaa:read", "xaa:write"]
    assert client.delete(path(PARTNER), headers=ADMIN).json() == {"deleted": True}
    assert client.get(path(PARTNER), headers=ADMIN).status_code == 404
    assert client.delete(path(PARTNER), headers=ADMIN).status_code == 404


def test_errors_name_the_field_and_need_the_admin(client: TestClient) -> None:
    r = client.post("/admin/partners", json={**BODY, "agent_clients": {"ghost": "x"}}, headers=ADMIN)
    assert r.status_code == 400 and "'ghost'" in r.json()["error_description"]
    r = client.post("/admin/partners", json={**BODY, "scopes": "a b", "resources": [7]}, headers=ADMIN)
    assert r.status_code == 400 and "resources[0]" in r.json()["error_description"]
    assert client.post("/admin/partners", json=[], headers=ADMIN).status_code == 400
    assert client.get("/admin/partners").status_code == 401
    assert client.post("/admin/partners", json=BODY).status_code == 401
