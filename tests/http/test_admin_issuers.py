"""The admin API for trusted issuers: /admin/issuers and /admin/issuers/{issuer}."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.testclient import TestClient

from tests.http.support import ADMIN

ENTRA = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"
BODY: dict[str, Any] = {
    "issuer": ENTRA,
    "discovery_url": ENTRA + "/.well-known/openid-configuration",
    "user_claim": "oid",
    "agent_audiences": {"incident-agent": ["api://incident-agent"]},
    "algorithms": ["RS256"],
}


def path(issuer: str) -> str:
    return "/admin/issuers/" + quote(issuer, safe="")


def test_create_read_list_delete(client: TestClient) -> None:
    assert client.get("/admin/issuers", headers=ADMIN).json() == []
    r = client.post("/admin/issuers", json=BODY, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    view = r.json()
    assert view == {
        **BODY, "provision": False, "groups_claim": "", "group_map": {}, "token_types": ["at+jwt", "JWT", ""],
    }
    assert client.get("/admin/issuers", headers=ADMIN).json() == [view]
    assert client.get(path(ENTRA), headers=ADMIN).json() == view
    assert client.get("/admin/realm", headers=ADMIN).json()["issuers"] == [view]

    # POST again replaces
    changed = {**BODY, "provision": True}
    assert client.post("/admin/issuers", json=changed, headers=ADMIN).json()["provision"] is True

    assert client.delete(path(ENTRA), headers=ADMIN).json() == {"deleted": True}
    assert client.get(path(ENTRA), headers=ADMIN).status_code == 404
    assert client.delete(path(ENTRA), headers=ADMIN).status_code == 404
    types = [e["type"] for e in client.get("/admin/audit?type=issuer.saved", headers=ADMIN).json()]
    assert types == ["issuer.saved", "issuer.saved"]
    assert len(client.get("/admin/audit?type=issuer.deleted", headers=ADMIN).json()) == 1


def test_issuer_with_a_trailing_slash_in_the_path(client: TestClient) -> None:
    sts = "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/"
    body = {**BODY, "issuer": sts, "discovery_url": sts + ".well-known/openid-configuration"}
    assert client.post("/admin/issuers", json=body, headers=ADMIN).status_code == 200
    assert client.get(path(sts), headers=ADMIN).json()["issuer"] == sts
    assert client.get(path(sts.rstrip("/")), headers=ADMIN).status_code == 404  # exact, never normalised


def test_invalid_input_names_the_field(client: TestClient) -> None:
    r = client.post("/admin/issuers", json={**BODY, "algorithms": ["HS256"]}, headers=ADMIN)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_input"
    assert "'algorithms'" in r.json()["error_description"]
    r = client.post("/admin/issuers", json={**BODY, "agent_audiences": {"ghost": ["x"]}}, headers=ADMIN)
    assert r.status_code == 400 and "'ghost'" in r.json()["error_description"]
    assert client.post("/admin/issuers", json=["not", "an", "object"], headers=ADMIN).status_code == 400
    assert client.get("/admin/issuers", headers=ADMIN).json() == []


def test_admin_credential_required(client: TestClient) -> None:
    assert client.get("/admin/issuers").status_code == 401
    assert client.post("/admin/issuers", json=BODY).status_code == 401
    assert client.get(path(ENTRA)).status_code == 401
    assert client.delete(path(ENTRA)).status_code == 401
