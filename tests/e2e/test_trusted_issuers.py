"""Deputy beside an enterprise IdP, end to end over real HTTP.

A second, independent issuer runs in the test (a small Starlette app with its own keys, discovery
document and JWKS, served by uvicorn on its own port) and signs tokens for jane. Deputy, also a
real server, is told to trust it (by discovery URL through the admin API, or by issuer + JWKS URL
through the CLI); incident-agent exchanges jane's external token at Deputy and gets a token with
sub=jane, act.sub=incident-agent. Key rotation, the refresh rate limit, provisioning and every
refusal are checked from the outside: HTTP answers, the audit trail, the JWKS requests the fake
issuer actually served.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from typer.testing import CliRunner

from deputy.cli.main import app
from deputy.clock import FixedClock
from deputy.config import Settings, write_config_file
from deputy.errors import PUBLIC_TEXT
from deputy.runtime import Deputy
from tests.e2e.asgi_server import serving
from tests.e2e.server import free_port, running_server
from tests.fake_issuer import FakeIssuer, new_key
from tests.protocol.support import hs256_jwt, unsigned_jwt

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
ADMIN_SECRET = "e2e-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_SECRET}"}
AGENT = ("incident-agent", "incident-agent-dev-secret")
INCIDENTS = "https://incidents.example"
AGENT_AUDIENCE = "api://incident-agent"


@dataclass
class World:
    deputy: str  # Deputy's base URL (its issuer)
    idp: FakeIssuer
    clock: FixedClock
    home: Path


def start_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, alg: str) -> Iterator[World]:
    idp_port, deputy_port = free_port(), free_port()
    idp = FakeIssuer(f"http://127.0.0.1:{idp_port}", alg=alg)
    home = tmp_path / "home"
    write_config_file(home, {"issuer": f"http://127.0.0.1:{deputy_port}"})
    monkeypatch.setenv("DEPUTY_HOME", str(home))
    result = CliRunner().invoke(app, ["init", "--dev-realm"])
    assert result.exit_code == 0, result.output
    clock = FixedClock(int(time.time()))
    deputy = Deputy.open(Settings.from_env(admin_token=ADMIN_SECRET), clock)
    try:
        with serving(idp.app(), idp_port), running_server(deputy, ADMIN_SECRET, deputy_port) as base:
            yield World(base, idp, clock, home)
    finally:
        deputy.close()


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from start_world(tmp_path, monkeypatch, "ES256")


@pytest.fixture
def rs_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from start_world(tmp_path, monkeypatch, "RS256")


def exchange(w: World, subject: str, token_type: str = ACCESS, **extra: str) -> httpx.Response:
    data = {"grant_type": TOKEN_EXCHANGE, "subject_token": subject, "subject_token_type": token_type,
            "audience": INCIDENTS, **extra}
    return httpx.post(f"{w.deputy}/token", data=data, auth=AGENT)


def verified_claims(w: World, token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(httpx.get(f"{w.deputy}/jwks").json())
    return dict(jwt.decode(token, keys, algorithms=["ES256", "RS256"]).claims)


def audit(w: World, type_: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{w.deputy}/admin/audit", params={"type": type_, "order": "asc"}, headers=ADMIN)
    assert r.status_code == 200, r.text
    events: list[dict[str, Any]] = r.json()
    return events


def refused(w: World, subject: str, reason: str, error: str = "invalid_request", **extra: str) -> dict[str, Any]:
    """Refused with the right code and public text, and audited with the same reason."""
    before = len(audit(w, "token.refused"))
    r = exchange(w, subject, **extra)
    assert r.status_code == 400, r.text
    assert r.json() == {"error": error, "error_description": PUBLIC_TEXT[reason]}
    events = audit(w, "token.refused")
    assert len(events) == before + 1
    event = events[-1]
    assert (event["error"], event["reason"], event["client_id"]) == (error, reason, "incident-agent")
    return event


def trust_by_discovery(w: World, **fields: Any) -> dict[str, Any]:
    body = {"issuer": w.idp.issuer, "discovery_url": w.idp.discovery_url,
            "agent_audiences": {"incident-agent": [AGENT_AUDIENCE]}, **fields}
    r = httpx.post(f"{w.deputy}/admin/issuers", json=body, headers=ADMIN)
    assert r.status_code == 200, r.text
    view: dict[str, Any] = r.json()
    return view


# -- the story --------------------------------------------------------------------------------------

def test_trusted_by_discovery(world: World) -> None:
    w, idp = world, world.idp
    trust_by_discovery(w)

    subject = idp.mint()
    r = exchange(w, subject)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["issued_token_type"] == ACCESS and body["token_type"] == "Bearer"
    assert body["scope"] == "incidents:read incidents:write"
    claims = verified_claims(w, body["access_token"])
    assert claims["iss"] == w.deputy
    assert claims["sub"] == "jane"
    assert claims["act"] == {"sub": "incident-agent", "iss": w.deputy, "sub_profile": "ai_agent"}
    assert (idp.discovery_fetches, idp.jwks_fetches) == (1, 1)

    issued = audit(w, "token.issued")[-1]
    assert issued["subject"] == "jane" and issued["parent_jti"] is None
    assert issued["data"]["subject_issuer"] == idp.issuer
    assert issued["data"]["subject_sub"] == "jane"
    assert issued["data"]["subject_jti"] == json.loads(_payload(subject))["jti"]

    # an ID token is a subject token too (the ID-JAG draft's first step)
    assert exchange(w, idp.mint(), token_type=ID_TOKEN).status_code == 200
    assert idp.jwks_fetches == 1  # cached


def test_trusted_by_jwks_uri_from_the_cli(rs_world: World) -> None:
    w, idp = rs_world, rs_world.idp
    result = CliRunner().invoke(app, [
        "issuers", "add", idp.issuer, "--jwks-uri", idp.jwks_uri, "--agent", f"incident-agent={AGENT_AUDIENCE}",
        "--alg", "RS256",
    ])
    assert result.exit_code == 0, result.output
    r = exchange(w, idp.mint(typ="at+jwt"))
    assert r.status_code == 200, r.text
    assert verified_claims(w, r.json()["access_token"])["sub"] == "jane"
    assert (idp.discovery_fetches, idp.jwks_fetches) == (0, 1)
    saved = audit(w, "issuer.saved")[-1]
    assert saved["admin"] == "cli" and saved["data"]["jwks_uri"] == idp.jwks_uri


def test_rotation_and_the_refresh_rate_limit(world: World) -> None:
    w, idp = world, world.idp
    trust_by_discovery(w)
    assert exchange(w, idp.mint()).status_code == 200
    assert idp.jwks_fetches == 1

    # The issuer rotates. Deputy fetched a moment ago, so the new kid waits for the next refresh.
    idp.rotate()
    rotated = idp.mint()
    event = refused(w, rotated, "subject_token_invalid")
    assert "unknown kid" in event["detail"]
    assert idp.jwks_fetches == 1
    w.clock.advance(31)
    assert exchange(w, rotated).status_code == 200
    assert idp.jwks_fetches == 2
    assert exchange(w, idp.mint(key=idp.published[0])).status_code == 200  # the old key is still published

    # Tokens with made-up kids cannot make Deputy hammer the issuer.
    for _ in range(5):
        forged = idp.mint(key=new_key("ES256"))
        refused(w, forged, "subject_token_invalid")
    assert idp.jwks_fetches == 2
    w.clock.advance(31)
    for _ in range(5):
        refused(w, idp.mint(key=new_key("ES256")), "subject_token_invalid")
    assert idp.jwks_fetches == 3  # one refresh per interval, however many unknown kids arrive


def test_refusals(world: World) -> None:
    w, idp = world, world.idp
    trust_by_discovery(w)
    now = int(time.time())

    stranger = FakeIssuer("http://127.0.0.1:9", alg="ES256")
    event = refused(w, stranger.mint(), "subject_token_invalid")
    assert event["data"]["subject_issuer"] == stranger.issuer and "not trusted" in event["detail"]

    event = refused(w, idp.mint(aud="api://payroll"), "subject_token_not_for_client")
    assert event["data"]["subject_issuer"] == idp.issuer

    event = refused(w, idp.mint(exp=now - 120, iat=now - 900, nbf=now - 900), "subject_token_invalid")
    assert "expired" in event["detail"]

    event = refused(w, unsigned_jwt({"alg": "none", "typ": "JWT", "kid": idp.signing.kid}, idp.claims()),
                    "subject_token_invalid")
    assert "'none' not allowed" in event["detail"]

    public_jwk = json.dumps(idp.signing.as_dict(private=False)).encode()
    for secret in (public_jwk, idp.signing.as_pem(private=False)):
        token = hs256_jwt({"alg": "HS256", "typ": "JWT", "kid": idp.signing.kid}, idp.claims(), secret)
        assert "'HS256' not allowed" in refused(w, token, "subject_token_invalid")["detail"]

    event = refused(w, idp.mint(typ="dpop+jwt"), "subject_token_invalid")
    assert "typ" in event["detail"]

    event = refused(w, idp.mint(sub="carol"), "subject_user_unknown")
    assert event["data"]["subject_user"] == "carol"
    assert httpx.get(f"{w.deputy}/admin/users/carol", headers=ADMIN).status_code == 404

    refused(w, idp.mint(act={"sub": "upstream-agent"}), "subject_token_delegated")
    refused(w, idp.mint(may_act={"sub": "api://someone-else"}), "may_act_mismatch")

    # every refusal above left no token behind
    assert audit(w, "token.issued") == []


def test_provisioning_with_mapped_groups(world: World) -> None:
    w, idp = world, world.idp
    trust_by_discovery(w, provision=True, groups_claim="groups", group_map={"ext-it": "it", "ext-hr": "hr"})

    r = exchange(w, idp.mint(sub="carol", groups=["ext-it", "ext-unmapped"], name="Carol Chen"))
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "incidents:read incidents:write"  # the entitlements of "it" apply
    assert verified_claims(w, r.json()["access_token"])["sub"] == "carol"
    user = httpx.get(f"{w.deputy}/admin/users/carol", headers=ADMIN).json()
    assert user["groups"] == ["it"] and user["display_name"] == "Carol Chen"
    (provisioned,) = audit(w, "user.provisioned")
    assert provisioned["subject"] == "carol"
    assert provisioned["data"] == {"issuer": idp.issuer, "user_claim": "sub", "subject_sub": "carol", "groups": ["it"]}

    r = exchange(w, idp.mint(sub="dan", groups=["ext-hr"]))
    assert r.json()["scope"] == "hr:read incidents:read"


def test_an_unreachable_issuer_is_a_refusal_not_an_error(world: World) -> None:
    w = world
    dead = FakeIssuer(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    r = httpx.post(f"{w.deputy}/admin/issuers", headers=ADMIN, json={
        "issuer": dead.issuer, "discovery_url": dead.discovery_url,
        "agent_audiences": {"incident-agent": [AGENT_AUDIENCE]},
    })
    assert r.status_code == 200, r.text
    event = refused(w, dead.mint(), "issuer_unavailable")
    assert "ConnectError" in event["detail"]
    # and the issuer that is up is unaffected
    trust_by_discovery(w)
    assert exchange(w, w.idp.mint()).status_code == 200


def test_removing_the_issuer_stops_its_tokens(world: World) -> None:
    w, idp = world, world.idp
    trust_by_discovery(w)
    token = idp.mint()
    assert exchange(w, token).status_code == 200
    r = httpx.delete(f"{w.deputy}/admin/issuers/{quote(idp.issuer, safe='')}", headers=ADMIN)
    assert r.json() == {"deleted": True}
    refused(w, token, "subject_token_invalid")


def _payload(token: str) -> str:
    segment = token.split(".")[1]
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)).decode()


def test_secrets_never_reach_the_audit_trail(world: World) -> None:
    w, idp = world, world.idp
    trust_by_discovery(w)
    subject = idp.mint(jti=secrets.token_hex(8))
    assert exchange(w, subject).status_code == 200
    refused(w, idp.mint(aud="api://other"), "subject_token_not_for_client")
    dump = json.dumps(httpx.get(f"{w.deputy}/admin/audit", headers=ADMIN).json())
    assert subject not in dump and subject.split(".")[2] not in dump
