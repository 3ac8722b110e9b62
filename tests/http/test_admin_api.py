"""The admin HTTP API: bearer protection, CRUD, agent lifecycle, realm files and the audit trail."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import httpx
import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from deputy.clock import FixedClock
from deputy.config import Settings
from deputy.http import create_app
from deputy.runtime import Deputy
from deputy.storage.schema import audit_events
from tests.conftest import ADMIN_TOKEN, AGENT, INCIDENTS, ISSUER, TRIAGE
from tests.http.support import (
    ADMIN,
    assert_no_leak,
    assert_oauth_error,
    basic,
    exchange,
    exchanged,
    introspect,
    user_token,
)


def _admin_routes(app: Starlette) -> list[tuple[str, str]]:
    out = []
    for route in app.routes:
        if isinstance(route, Route) and route.path.startswith("/admin"):
            path = re.sub(r"\{[^}]+\}", "x", route.path)
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    out.append((method, path))
    return out


def test_every_admin_route_is_listed(app: Starlette) -> None:
    routes = _admin_routes(app)
    assert len(routes) >= 30
    assert ("GET", "/admin/realm") in routes and ("POST", "/admin/agents/x/status") in routes


BAD_AUTH: dict[str, dict[str, Any]] = {
    "none": {},
    "empty bearer": {"Authorization": "Bearer "},
    "wrong token": {"Authorization": "Bearer not-the-admin-token-at-all"},
    "prefix only": {"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"},
    "suffix added": {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
    "basic scheme": {"Authorization": f"Basic {ADMIN_TOKEN}"},
    "token without scheme": {"Authorization": ADMIN_TOKEN},
    "non-ascii": {"Authorization": b"Bearer \xe9\xe9\xe9"},
    "agent secret": basic(*AGENT),
}


@pytest.mark.parametrize("auth", list(BAD_AUTH.values()), ids=list(BAD_AUTH))
def test_every_route_refuses_without_the_admin_token(app: Starlette, deputy: Deputy, auth: dict[str, Any]) -> None:
    before_users = len(deputy.store.realm.list_users())
    before_audit = deputy.store.audit.count()
    with TestClient(app, raise_server_exceptions=False) as raw:
        for method, path in _admin_routes(app):
            r = raw.request(method, path, json={"username": "mallory", "client_id": "x", "status": "suspended"},
                            headers=auth)
            assert r.status_code == 401, (method, path, r.status_code, r.text)
            assert r.headers["www-authenticate"].startswith("Bearer"), (method, path)
            assert r.json()["error"] == "unauthorized", (method, path)
            assert ADMIN_TOKEN not in r.text
            assert_no_leak(r)
    assert len(deputy.store.realm.list_users()) == before_users
    assert deputy.store.audit.count() == before_audit


def test_admin_token_works_case_insensitive_scheme(client: TestClient) -> None:
    r = client.get("/admin/users", headers={"Authorization": f"bearer {ADMIN_TOKEN}"})
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"


# -- users and groups ---------------------------------------------------------------------------
def test_user_crud(client: TestClient) -> None:
    r = client.post("/admin/users", json={"username": "carol", "display_name": "Carol", "email": "carol@example.com",
                                           "groups": ["it", "newgroup"]}, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json() == {"username": "carol", "display_name": "Carol", "email": "carol@example.com",
                        "groups": ["it", "newgroup"], "disabled": False}
    assert client.get("/admin/users/carol", headers=ADMIN).json()["groups"] == ["it", "newgroup"]
    assert "newgroup" in [g["name"] for g in client.get("/admin/groups", headers=ADMIN).json()]

    r = client.put("/admin/users/carol", json={"display_name": "Carol C", "groups": ["hr"]}, headers=ADMIN)
    assert r.status_code == 200, r.text
    got = client.get("/admin/users/carol", headers=ADMIN).json()
    assert got["display_name"] == "Carol C" and got["groups"] == ["hr"] and got["email"] == ""
    assert [u["username"] for u in client.get("/admin/users", headers=ADMIN).json()] == ["bob", "carol", "jane"]

    assert client.delete("/admin/users/carol", headers=ADMIN).json() == {"deleted": True}
    r = client.get("/admin/users/carol", headers=ADMIN)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert client.delete("/admin/users/carol", headers=ADMIN).status_code == 404


def test_deleting_a_user_deactivates_their_tokens(client: TestClient) -> None:
    subject = user_token(client, "bob", AGENT[0], ["incidents:read"])
    token = exchanged(client, AGENT, subject, resource=INCIDENTS)
    assert client.delete("/admin/users/bob", headers=ADMIN).status_code == 200
    assert introspect(client, AGENT, token) == {"active": False}


def test_group_crud(client: TestClient) -> None:
    r = client.post("/admin/groups", json={"name": "sec", "description": "Security"}, headers=ADMIN)
    assert r.status_code == 200 and r.json() == {"name": "sec", "description": "Security"}
    assert {"name": "sec", "description": "Security"} in client.get("/admin/groups", headers=ADMIN).json()
    assert client.delete("/admin/groups/sec", headers=ADMIN).json() == {"deleted": True}
    assert "sec" not in [g["name"] for g in client.get("/admin/groups", headers=ADMIN).json()]
    assert client.delete("/admin/groups/sec", headers=ADMIN).status_code == 404


def test_deleting_a_group_removes_memberships_and_entitlements(client: TestClient) -> None:
    assert client.delete("/admin/groups/hr", headers=ADMIN).status_code == 200
    assert client.get("/admin/users/bob", headers=ADMIN).json()["groups"] == []
    assert all(e["group"] != "hr" for e in client.get("/admin/entitlements", headers=ADMIN).json())


# -- resources and entitlements -----------------------------------------------------------------
@pytest.mark.parametrize("identifier", ["https://api.example/v1", "https://api.example/a/b?x=1", "billing-agent"])
def test_resource_crud(client: TestClient, identifier: str) -> None:
    resource = {"identifier": identifier, "name": "API", "scopes": ["a:read", "a:write"], "signing_alg": "RS256",
                "token_ttl": 120}
    r = client.post("/admin/resources", json=resource, headers=ADMIN)
    assert r.status_code == 200 and r.json() == resource, r.text
    path = "/admin/resources/" + quote(identifier, safe="")
    r = client.get(path, headers=ADMIN)
    assert r.status_code == 200 and r.json() == resource, r.text
    assert resource in client.get("/admin/resources", headers=ADMIN).json()
    r = client.put("/admin/resources", json={**resource, "token_ttl": 60}, headers=ADMIN)
    assert r.status_code == 200 and client.get(path, headers=ADMIN).json()["token_ttl"] == 60
    assert client.delete(path, headers=ADMIN).json() == {"deleted": True}
    assert client.get(path, headers=ADMIN).status_code == 404


def test_resource_identifier_with_percent_escape(app: Starlette) -> None:
    """The path is percent-decoded once, as a real server does (Starlette's TestClient decodes
    twice, so this goes through httpx's ASGI transport instead)."""
    identifier = "https://api.example/t%2Fa"
    other = "https://api.example/t/a"

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as ac:
            out = []
            for ident in (identifier, other):
                out.append(await ac.post("/admin/resources", json={"identifier": ident, "name": ident}, headers=ADMIN))
            out.append(await ac.get("/admin/resources/" + quote(identifier, safe=""), headers=ADMIN))
            out.append(await ac.delete("/admin/resources/" + quote(identifier, safe=""), headers=ADMIN))
            out.append(await ac.get("/admin/resources/" + quote(other, safe=""), headers=ADMIN))
            out.append(await ac.get("/admin/resources/" + quote(identifier, safe=""), headers=ADMIN))
            return out

    created, created_other, got, deleted, got_other, gone = anyio.run(run)
    assert created.status_code == 200 and created_other.status_code == 200
    assert got.status_code == 200 and got.json()["name"] == identifier, got.text
    assert deleted.status_code == 200
    assert got_other.status_code == 200 and got_other.json()["name"] == other  # not the one deleted
    assert gone.status_code == 404


def test_entitlements(client: TestClient) -> None:
    ent = {"group": "hr", "resource": INCIDENTS, "scopes": ["incidents:read", "incidents:write", "hr:read"]}
    r = client.post("/admin/entitlements", json=ent, headers=ADMIN)
    assert r.status_code == 200 and r.json() == ent
    assert ent in client.get("/admin/entitlements", headers=ADMIN).json()
    # Bob (hr) can now get incidents:write through an agent.
    subject = user_token(client, "bob", AGENT[0], ["incidents:write"])
    r = exchange(client, AGENT, subject, resource=INCIDENTS, scope="incidents:write")
    assert r.status_code == 200 and r.json()["scope"] == "incidents:write", r.text
    # Emptying the scopes removes the entitlement.
    r = client.put("/admin/entitlements", json={"group": "hr", "resource": INCIDENTS, "scopes": []}, headers=ADMIN)
    assert r.status_code == 200
    assert all(not (e["group"] == "hr" and e["resource"] == INCIDENTS)
               for e in client.get("/admin/entitlements", headers=ADMIN).json())


# -- agents -------------------------------------------------------------------------------------
NEW_AGENT = {
    "client_id": "summary-agent",
    "name": "Summary agent",
    "owners": ["jane"],
    "status": "active",
    "subject_groups": ["it"],
    "resources": [{"resource": INCIDENTS, "scopes": ["incidents:read"]}],
}


def _create_agent(client: TestClient, **overrides: Any) -> dict[str, Any]:
    r = client.post("/admin/agents", json={**NEW_AGENT, **overrides}, headers=ADMIN)
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    body: dict[str, Any] = r.json()
    return body


def test_created_agent_gets_a_secret_once_that_works(client: TestClient, deputy: Deputy) -> None:
    created = _create_agent(client)
    secret = created["client_secret"]
    assert isinstance(secret, str) and len(secret) >= 32
    assert created["status"] == "active" and len(created["secrets"]) == 1

    subject = user_token(client, "jane", "summary-agent", ["incidents:read"])
    r = exchange(client, ("summary-agent", secret), subject, resource=INCIDENTS)
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "incidents:read"

    stored = deputy.store.realm.get_agent("summary-agent")
    assert stored is not None
    hashes = [s.secret_hash for s in stored.secrets]
    hex_parts = [h.split(":")[-1] for h in hashes]
    for r in (client.get("/admin/agents/summary-agent", headers=ADMIN), client.get("/admin/agents", headers=ADMIN),
              client.get("/admin/realm", headers=ADMIN)):
        assert r.status_code == 200
        assert secret not in r.text
        for value in hashes + hex_parts:
            assert value not in r.text
        assert "secret_hash" not in r.text
        assert "client_secret" not in r.text
    view = client.get("/admin/agents/summary-agent", headers=ADMIN).json()
    assert view["secrets"] == [{"secret_id": created["secrets"][0]["secret_id"], "created_at": created["secrets"][0]["created_at"],
                                "expires_at": None}]


def test_duplicate_agent_is_a_conflict(client: TestClient) -> None:
    _create_agent(client)
    r = client.post("/admin/agents", json=NEW_AGENT, headers=ADMIN)
    assert r.status_code == 409 and r.json()["error"] == "conflict"
    assert "client_secret" not in r.text


def test_agent_update_and_delete(client: TestClient) -> None:
    created = _create_agent(client)
    r = client.put("/admin/agents/summary-agent", json={**{k: v for k, v in NEW_AGENT.items() if k != "client_id"},
                                                         "name": "Renamed", "subject_users": ["bob"]}, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Renamed" and r.json()["subject_users"] == ["bob"]
    assert r.json()["secrets"] == created["secrets"]  # credentials are not touched by an update
    assert "summary-agent" in [a["client_id"] for a in client.get("/admin/agents", headers=ADMIN).json()]
    assert client.delete("/admin/agents/summary-agent", headers=ADMIN).json() == {"deleted": True}
    assert client.get("/admin/agents/summary-agent", headers=ADMIN).status_code == 404
    subject = user_token(client, "jane", AGENT[0], ["incidents:read"])
    r = exchange(client, ("summary-agent", created["client_secret"]), subject, resource=INCIDENTS)
    assert_oauth_error(r, 401, "invalid_client")


def test_secret_rotation(client: TestClient) -> None:
    old = _create_agent(client)["client_secret"]
    r = client.post("/admin/agents/summary-agent/secrets", json={"replace": True}, headers=ADMIN)
    assert r.status_code == 200, r.text
    new = r.json()["client_secret"]
    assert new != old
    data = {"grant_type": "client_credentials", "resource": INCIDENTS}
    assert client.post("/token", data=data, headers=basic("summary-agent", new)).status_code == 200
    assert_oauth_error(client.post("/token", data=data, headers=basic("summary-agent", old)), 401, "invalid_client")


def test_suspending_an_agent_deactivates_its_tokens_and_refuses_exchange(client: TestClient, deputy: Deputy) -> None:
    user = user_token(client, "jane", AGENT[0], ["incidents:read"])
    middle = exchanged(client, AGENT, user, audience="triage-agent")
    last = exchanged(client, TRIAGE, middle, resource=INCIDENTS)
    bob_direct = exchanged(client, TRIAGE, user_token(client, "bob", TRIAGE[0], ["incidents:read"]), resource=INCIDENTS)

    r = client.post(f"/admin/agents/{AGENT[0]}/status", json={"status": "suspended"}, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "suspended"
    assert r.json()["revoked_tokens"] >= 3  # the user token issued to it, its exchange, and the one below

    for token in (user, middle, last):
        assert introspect(client, TRIAGE, token) == {"active": False}
    assert introspect(client, TRIAGE, bob_direct)["active"] is True  # incident-agent never touched it

    fresh = user_token(client, "jane", AGENT[0], ["incidents:read"])
    r = exchange(client, AGENT, fresh, resource=INCIDENTS)
    assert_oauth_error(r, 400, "unauthorized_client", "client_not_active")
    events = [e["type"] for e in client.get("/admin/audit", params={"agent": AGENT[0]}, headers=ADMIN).json()]
    assert "agent.suspended" in events

    # Re-activating does not bring revoked tokens back.
    r = client.post(f"/admin/agents/{AGENT[0]}/status", json={"status": "active"}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["revoked_tokens"] == 0
    assert introspect(client, TRIAGE, last) == {"active": False}
    assert exchange(client, AGENT, fresh, resource=INCIDENTS).status_code == 200


def test_status_must_be_known(client: TestClient) -> None:
    for status in ("paused", 3, None, ["active"]):
        r = client.post(f"/admin/agents/{AGENT[0]}/status", json={"status": status}, headers=ADMIN)
        assert r.status_code == 400, (status, r.text)
        assert "status" in r.json()["error_description"]
    assert client.get(f"/admin/agents/{AGENT[0]}", headers=ADMIN).json()["status"] == "active"


def test_agent_keys(client: TestClient) -> None:
    from joserfc.jwk import ECKey

    key = ECKey.generate_key("P-256", parameters={"kid": "k1"}, private=True)
    public = key.as_dict(private=False)
    r = client.post(f"/admin/agents/{AGENT[0]}/keys", json=public, headers=ADMIN)
    assert r.status_code == 200 and r.json()["kid"] == "k1", r.text
    assert [k["kid"] for k in client.get(f"/admin/agents/{AGENT[0]}", headers=ADMIN).json()["keys"]] == ["k1"]
    r = client.post(f"/admin/agents/{AGENT[0]}/keys", json=key.as_dict(private=True), headers=ADMIN)
    assert r.status_code == 400 and "private" in r.json()["error_description"]
    assert client.delete(f"/admin/agents/{AGENT[0]}/keys/k1", headers=ADMIN).json() == {"deleted": True}
    assert client.delete(f"/admin/agents/{AGENT[0]}/keys/k1", headers=ADMIN).status_code == 404


# -- realm files --------------------------------------------------------------------------------
@pytest.fixture
def empty_client(tmp_path: Path, clock: FixedClock) -> Iterator[TestClient]:
    instance = Deputy.open(Settings(issuer=ISSUER, home=tmp_path / "other", admin_token=ADMIN_TOKEN), clock)
    with TestClient(create_app(instance, ADMIN_TOKEN)) as test_client:
        yield test_client
    instance.close()


def test_realm_export_import_round_trip(client: TestClient, empty_client: TestClient) -> None:
    from joserfc.jwk import ECKey

    _create_agent(client)
    jwk = ECKey.generate_key("P-256", parameters={"kid": "rt"}, private=True).as_dict(private=False)
    assert client.post("/admin/agents/summary-agent/keys", json=jwk, headers=ADMIN).status_code == 200
    exported = client.get("/admin/realm", headers=ADMIN).json()
    assert [a["client_id"] for a in exported["agents"]] == [AGENT[0], "summary-agent", TRIAGE[0]]
    assert "secret" not in str(exported).replace("secrets", "")  # never exports credentials but public keys

    assert empty_client.get("/admin/realm", headers=ADMIN).json() == {
        "groups": [], "resources": [], "users": [], "entitlements": [], "agents": []}
    r = empty_client.post("/admin/realm", json=exported, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json() == {"groups": 2, "resources": 2, "users": 2, "entitlements": 4, "agents": 3}
    assert empty_client.get("/admin/realm", headers=ADMIN).json() == exported
    # Loading again is idempotent.
    assert empty_client.put("/admin/realm", json=exported, headers=ADMIN).status_code == 200
    assert empty_client.get("/admin/realm", headers=ADMIN).json() == exported


def test_realm_load_with_a_mistake_changes_nothing(client: TestClient) -> None:
    before = client.get("/admin/realm", headers=ADMIN).json()
    bad_inputs: list[tuple[Any, str]] = [
        ({"users": [{"username": "dave"}], "agents": [{"client_id": "a1", "status": "dreaming"}]}, "status"),
        ({"users": [{"username": "dave", "groups": "it"}]}, "groups"),
        ({"groups": [{"name": "g1"}], "resources": [{"identifier": "https://x.example", "token_ttl": "long"}]},
         "token_ttl"),
        ({"users": "dave"}, "users"),
        ({"people": []}, "people"),
        ({"users": [{"username": "dave"}], "agents": [{"client_id": "a1", "keys": "not-a-list"}]}, "keys"),
        ({"users": [{"username": "dave"}], "agents": [{"client_id": "a1", "keys": ["not-a-jwk"]}]}, "keys"),
        ({"users": [{"username": "dave"}], "agents": [{"client_id": "a1", "secret": 42}]}, "secret"),
        ({"users": [{"username": "dave"}], "agents": [{"client_id": "a1", "secret": "short"}]}, "secret"),
        ({"users": [{"username": "dave"}], "agents": [{"client_id": "a1", "keys": [{"kid": "k", "kty": "oct"}]}]},
         "keys[0]"),
        ({"users": [{"username": "dave"}],
          "entitlements": [{"group": "it", "resource": INCIDENTS, "scopes": ["incidents:delete"]}]}, "incidents:delete"),
        ({"users": [{"username": "dave"}],
          "agents": [{"client_id": "a1", "resources": [{"resource": "https://nowhere.example"}]}]}, "nowhere"),
    ]
    with TestClient(client.app, raise_server_exceptions=False) as raw:
        for body, field in bad_inputs:
            r = raw.post("/admin/realm", json=body, headers=ADMIN)
            assert r.status_code == 400, (body, r.status_code, r.text)
            assert r.json()["error"] == "invalid_input"
            assert field in r.json()["error_description"], (field, r.text)
            assert_no_leak(r)
    assert client.get("/admin/realm", headers=ADMIN).json() == before


# -- audit --------------------------------------------------------------------------------------
def _activity(client: TestClient) -> None:
    jane = user_token(client, "jane", AGENT[0], ["incidents:read"])
    middle = exchanged(client, AGENT, jane, audience="triage-agent")
    exchanged(client, TRIAGE, middle, resource=INCIDENTS)
    bob = user_token(client, "bob", AGENT[0], ["incidents:read"])
    exchanged(client, AGENT, bob, resource=INCIDENTS)
    assert exchange(client, TRIAGE, bob, resource=INCIDENTS).status_code == 400  # not issued to triage
    assert exchange(client, AGENT, "garbage", resource=INCIDENTS).status_code == 400


def _audit(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/admin/audit", params=params, headers=ADMIN)
    assert r.status_code == 200, r.text
    events: list[dict[str, Any]] = r.json()
    return events


def test_audit_filters(client: TestClient) -> None:
    _activity(client)
    everything = _audit(client, limit=10000)
    assert len(everything) > 10
    assert [e["seq"] for e in everything] == sorted((e["seq"] for e in everything), reverse=True)

    bob = _audit(client, subject="bob")
    assert bob and all(e["subject"] == "bob" for e in bob)
    assert len(bob) == sum(1 for e in everything if e["subject"] == "bob")
    assert {e["type"] for e in bob} >= {"token.issued", "token.refused"}

    triage = _audit(client, agent=TRIAGE[0])
    assert triage and all(e["client_id"] == TRIAGE[0] or TRIAGE[0] in e["actor_chain"] for e in triage)
    assert len(triage) == sum(1 for e in everything if e["client_id"] == TRIAGE[0] or TRIAGE[0] in e["actor_chain"])

    failures = _audit(client, outcome="failure")
    assert len(failures) == 2 and all(e["outcome"] == "failure" for e in failures)
    assert {f["reason"] for f in failures} == {"subject_token_not_for_client", "subject_token_invalid"}

    combined = _audit(client, subject="jane", type="token.issued", audience=INCIDENTS)
    assert len(combined) == 1 and combined[0]["actor_chain"] == [TRIAGE[0], AGENT[0]]

    oldest = _audit(client, order="asc", limit=2)
    assert [e["seq"] for e in oldest] == [1, 2]
    assert _audit(client, since=10**12) == []
    r = client.get("/admin/audit", params={"limit": "ten"}, headers=ADMIN)
    assert r.status_code == 400 and "limit" in r.json()["error_description"]


def test_audit_events_never_hold_tokens_or_secrets(client: TestClient) -> None:
    jane = user_token(client, "jane", AGENT[0], ["incidents:read"])
    token = exchanged(client, AGENT, jane, resource=INCIDENTS)
    text = client.get("/admin/audit", params={"limit": 10000}, headers=ADMIN).text
    for value in (jane, token, AGENT[1], TRIAGE[1]):
        assert value not in text


def test_audit_verify(client: TestClient, deputy: Deputy) -> None:
    _activity(client)
    r = client.get("/admin/audit/verify", headers=ADMIN)
    assert r.status_code == 200
    report = r.json()
    assert report == {"records": deputy.store.audit.count(), "intact": True, "break": None}
    assert report["records"] > 10
    with deputy.store.db.write() as conn:
        body = conn.execute(select(audit_events.c.body).where(audit_events.c.seq == 5)).scalar_one()
        event = json.loads(body)
        event["admin"] = "someone-else"
        conn.execute(update(audit_events).where(audit_events.c.seq == 5).values(body=json.dumps(event)))
    report = client.get("/admin/audit/verify", headers=ADMIN).json()
    assert report["intact"] is False
    assert report["break"]["seq"] == 5


# -- tokens and keys ----------------------------------------------------------------------------
def test_token_show_and_revoke(client: TestClient) -> None:
    user = user_token(client, "jane", AGENT[0], ["incidents:read"])
    middle = exchanged(client, AGENT, user, audience="triage-agent")
    exchanged(client, TRIAGE, middle, resource=INCIDENTS)
    jti = introspect(client, AGENT, user)["jti"]
    tree = client.get(f"/admin/tokens/{jti}", headers=ADMIN).json()
    assert len(tree) == 3
    by_jti = {t["jti"]: t for t in tree}
    assert by_jti[jti]["parent_jti"] is None and by_jti[jti]["subject"] == "jane"
    children = [t for t in tree if t["jti"] != jti]
    assert {t["parent_jti"] for t in children} == {jti, next(t["jti"] for t in children if t["parent_jti"] == jti)}
    assert sorted(t["mode"] for t in tree) == ["delegation", "delegation", "user"]
    assert all(t["revoked_at"] is None for t in tree)
    assert client.post(f"/admin/tokens/{jti}/revoke", headers=ADMIN).json() == {"revoked": 3}
    assert all(t["revoked_at"] is not None for t in client.get(f"/admin/tokens/{jti}", headers=ADMIN).json())
    assert client.get("/admin/tokens/nope", headers=ADMIN).status_code == 404
    assert client.post("/admin/tokens/nope/revoke", headers=ADMIN).status_code == 404


def test_key_rotation_api(client: TestClient) -> None:
    before = client.get("/admin/keys", headers=ADMIN).json()
    assert {k["alg"] for k in before} == {"ES256", "RS256"} and all(k["retire_at"] is None for k in before)
    assert "private_jwk" not in str(before) and "'d'" not in str(before)
    r = client.post("/admin/keys/rotate", json={"alg": "RS256", "overlap_seconds": 600}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["alg"] == "RS256"
    after = client.get("/admin/keys", headers=ADMIN).json()
    assert len(after) == 3
    old_rs = next(k for k in after if k["kid"] == next(b["kid"] for b in before if b["alg"] == "RS256"))
    assert old_rs["retire_at"] is not None
    assert r.json()["kid"] in {k["kid"] for k in client.get("/jwks").json()["keys"]}
    with TestClient(client.app, raise_server_exceptions=False) as raw:
        for bad in ({"alg": "HS256"}, {"alg": "none"}, {"alg": "ES256", "overlap_seconds": "soon"},
                    {"alg": "ES256", "overlap_seconds": -5}, {"alg": ["ES256"]}):
            r = raw.post("/admin/keys/rotate", json=bad, headers=ADMIN)
            assert r.status_code == 400, (bad, r.status_code, r.text)
            assert r.json()["error"] == "invalid_input"
    assert len(client.get("/admin/keys", headers=ADMIN).json()) == 3


# -- invalid input ------------------------------------------------------------------------------
INVALID: list[tuple[str, str, Any, str]] = [
    ("POST", "/admin/users", {"username": "x", "groups": "it"}, "groups"),
    ("POST", "/admin/users", {"username": "x", "disabled": "yes"}, "disabled"),
    ("POST", "/admin/users", {"username": "x", "shoe_size": 42}, "shoe_size"),
    ("POST", "/admin/users", {"username": "bad name!"}, "valid name"),
    ("POST", "/admin/users", {"display_name": "no username"}, "user"),
    ("POST", "/admin/groups", {"name": "g", "description": 5}, "description"),
    ("POST", "/admin/resources", {"identifier": "https://x.example", "token_ttl": "300"}, "token_ttl"),
    ("POST", "/admin/resources", {"identifier": "https://x.example", "signing_alg": "HS256"}, "signing_alg"),
    ("POST", "/admin/resources", {"identifier": "https://x.example#frag"}, "identifier"),
    ("POST", "/admin/resources", {"identifier": "https://x.example", "scopes": ["has space"]}, "scopes"),
    ("POST", "/admin/entitlements", {"group": "it", "resource": INCIDENTS, "scopes": ["admin:all"]}, "admin:all"),
    ("POST", "/admin/agents", {"client_id": "a1", "status": "dreaming"}, "status"),
    ("POST", "/admin/agents", {"client_id": "a1", "resources": {"x": 1}}, "resources"),
    ("POST", "/admin/agents", {"client_id": "a1", "resources": [{"resource": INCIDENTS, "scopes": ["nope"]}]}, "nope"),
    ("POST", "/admin/agents", {"client_id": "a1", "audiences": [1]}, "audiences"),
    ("POST", "/admin/agents", {"client_id": "a1", "may_impersonate": "true"}, "may_impersonate"),
    ("POST", "/admin/users/jane/tokens", {"client_id": 7}, "client_id"),
    ("POST", "/admin/users/jane/tokens", {"client_id": AGENT[0], "scopes": [1]}, "scopes"),
    ("POST", "/admin/users/jane/tokens", {"client_id": AGENT[0], "ttl": "1h"}, "ttl"),
    ("POST", "/admin/users/jane/tokens", {"client_id": AGENT[0], "ttl": -5}, "ttl"),
    ("POST", "/admin/users/jane/tokens", {"client_id": AGENT[0], "may_act": "incident-agent"}, "may_act"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), INVALID, ids=[f"{p}:{f}" for _, p, _, f in INVALID])
def test_invalid_input_names_the_field(app: Starlette, method: str, path: str, body: Any, field: str) -> None:
    with TestClient(app, raise_server_exceptions=False) as raw:
        r = raw.request(method, path, json=body, headers=ADMIN)
    assert r.status_code == 400, r.text
    data = r.json()
    assert data["error"] == "invalid_input"
    assert field in data["error_description"], data
    assert_no_leak(r)


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[1, 2", b"null", b"[]", b"\"user\"", b"42"])
def test_body_must_be_a_json_object(client: TestClient, deputy: Deputy, body: bytes) -> None:
    before = deputy.store.realm.list_users()
    r = client.post("/admin/users", content=body, headers={**ADMIN, "content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_input"
    assert "JSON" in r.json()["error_description"]
    assert_no_leak(r)
    assert deputy.store.realm.list_users() == before


def test_unknown_objects_are_404(client: TestClient) -> None:
    for method, path in [("GET", "/admin/users/nobody"), ("DELETE", "/admin/users/nobody"),
                         ("GET", "/admin/agents/nobody"), ("DELETE", "/admin/agents/nobody"),
                         ("PUT", "/admin/agents/nobody"), ("POST", "/admin/agents/nobody/secrets"),
                         ("POST", "/admin/agents/nobody/status"), ("GET", "/admin/resources/nothing"),
                         ("DELETE", "/admin/resources/nothing"), ("POST", "/admin/users/nobody/tokens")]:
        body = {"status": "active", "client_id": AGENT[0]} if "tokens" in path or "status" in path else {}
        r = client.request(method, path, json=body, headers=ADMIN)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error"] == "not_found"
    r = client.post("/admin/entitlements", json={"group": "it", "resource": "https://nowhere.example"}, headers=ADMIN)
    assert r.status_code == 404 and "nowhere" in r.json()["error_description"]


def test_create_agent_with_keys_registers_them(client: TestClient) -> None:
    from joserfc.jwk import ECKey

    public = ECKey.generate_key("P-256", parameters={"kid": "ck1"}, private=True).as_dict(private=False)
    created = _create_agent(client, keys=[public])
    assert [k["kid"] for k in created["keys"]] == ["ck1"]


def test_create_agent_refuses_a_chosen_secret_and_bad_keys_and_creates_nothing(client: TestClient) -> None:
    r = client.post("/admin/agents", json={**NEW_AGENT, "secret": "my-own-secret-value"}, headers=ADMIN)
    assert r.status_code == 400 and "generated" in r.json()["error_description"]
    r = client.post("/admin/agents", json={**NEW_AGENT, "keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "x"}]}, headers=ADMIN)
    assert r.status_code == 400
    assert client.get("/admin/agents/summary-agent", headers=ADMIN).status_code == 404


def test_an_agent_view_can_be_sent_back_with_put(client: TestClient) -> None:
    view = _create_agent(client)
    view.pop("client_secret")
    view["name"] = "From the view"
    r = client.put("/admin/agents/summary-agent", json=view, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "From the view" and r.json()["secrets"] == view["secrets"]


def test_secret_rotation_with_a_grace_period(client: TestClient, clock: FixedClock) -> None:
    old = _create_agent(client)["client_secret"]
    r = client.post("/admin/agents/summary-agent/secrets", json={"replace": True, "grace_seconds": 600}, headers=ADMIN)
    assert r.status_code == 200, r.text
    new = r.json()["client_secret"]
    data = {"grant_type": "client_credentials", "resource": INCIDENTS}
    assert client.post("/token", data=data, headers=basic("summary-agent", old)).status_code == 200
    assert client.post("/token", data=data, headers=basic("summary-agent", new)).status_code == 200
    clock.advance(601)
    assert_oauth_error(client.post("/token", data=data, headers=basic("summary-agent", old)), 401, "invalid_client")
    assert client.post("/token", data=data, headers=basic("summary-agent", new)).status_code == 200
    bad = client.post("/admin/agents/summary-agent/secrets", json={"replace": "yes"}, headers=ADMIN)
    assert bad.status_code == 400
