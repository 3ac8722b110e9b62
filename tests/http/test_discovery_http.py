"""Authorization server metadata (RFC 8414), OpenID discovery and the JWKS."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet
from starlette.testclient import TestClient

from deputy.admin.realm_file import load_realm, read_realm_file
from deputy.clock import FixedClock
from deputy.config import Settings
from deputy.http import create_app
from deputy.runtime import Deputy
from tests.conftest import ADMIN_TOKEN, AGENT, DEV_REALM, INCIDENTS, ISSUER, TOKEN_EXCHANGE
from tests.http.support import ADMIN, exchanged, user_token

WELL_KNOWN = ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]
PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


@pytest.mark.parametrize("path", WELL_KNOWN)
def test_metadata_document(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    meta = r.json()
    assert meta["issuer"] == ISSUER
    assert meta["token_endpoint"] == f"{ISSUER}/token"
    assert meta["introspection_endpoint"] == f"{ISSUER}/introspect"
    assert meta["revocation_endpoint"] == f"{ISSUER}/revoke"
    assert meta["jwks_uri"] == f"{ISSUER}/jwks"
    assert TOKEN_EXCHANGE in meta["grant_types_supported"]
    assert "client_credentials" in meta["grant_types_supported"]
    methods = meta["token_endpoint_auth_methods_supported"]
    assert {"private_key_jwt", "client_secret_basic", "client_secret_post"} <= set(methods)
    # "none" is for public sign-in clients at the token endpoint only (docs/sign-in.md)
    assert "none" in methods
    assert "none" not in meta["introspection_endpoint_auth_methods_supported"]
    assert "none" not in meta["revocation_endpoint_auth_methods_supported"]
    algs = meta["token_endpoint_auth_signing_alg_values_supported"]
    assert "RS256" in algs and "none" not in algs and not any(a.startswith("HS") for a in algs)
    assert set(meta["access_token_signing_alg_values_supported"]) == {"ES256", "RS256"}
    if path.endswith("openid-configuration"):
        assert meta["subject_types_supported"] == ["public"]
        assert "ES256" in meta["id_token_signing_alg_values_supported"]


def test_advertised_endpoints_are_served(client: TestClient) -> None:
    meta = client.get(WELL_KNOWN[0]).json()
    assert client.get(urlsplit(meta["jwks_uri"]).path).status_code == 200
    for name in ("token_endpoint", "introspection_endpoint", "revocation_endpoint"):
        r = client.post(urlsplit(meta[name]).path, data={})
        assert r.status_code in (400, 401), (name, r.status_code)  # exists, wants credentials
        assert r.json()["error"] in ("invalid_client", "invalid_request")


@pytest.fixture
def tenant_client(tmp_path: Path, clock: FixedClock) -> Iterator[TestClient]:
    settings = Settings(issuer="https://login.example.com/tenants/acme", home=tmp_path / "tenant",
                        admin_token=ADMIN_TOKEN)
    instance = Deputy.open(settings, clock)
    load_realm(instance.admin("test"), read_realm_file(DEV_REALM))
    with TestClient(create_app(instance, ADMIN_TOKEN)) as test_client:
        yield test_client
    instance.close()


@pytest.mark.parametrize("path", WELL_KNOWN)
def test_issuer_follows_configuration(tenant_client: TestClient, path: str) -> None:
    meta = tenant_client.get(path).json()
    issuer = "https://login.example.com/tenants/acme"
    assert meta["issuer"] == issuer
    for name in ("token_endpoint", "introspection_endpoint", "revocation_endpoint", "jwks_uri"):
        assert meta[name].startswith(issuer + "/"), (name, meta[name])
    subject = user_token(tenant_client, "jane", AGENT[0], ["incidents:read"])
    token = exchanged(tenant_client, AGENT, subject, resource=INCIDENTS)
    claims = jwt.decode(token, KeySet.import_key_set(tenant_client.get("/jwks").json())).claims
    assert claims["iss"] == issuer


def _jwks(client: TestClient) -> dict[str, Any]:
    r = client.get("/jwks")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    data: dict[str, Any] = r.json()
    return data


def test_jwks_has_public_keys_only(client: TestClient) -> None:
    keys = _jwks(client)["keys"]
    assert {k["alg"] for k in keys} == {"ES256", "RS256"}
    assert {k["kty"] for k in keys} == {"EC", "RSA"}
    kids = [k["kid"] for k in keys]
    assert len(kids) == len(set(kids)) and all(kids)
    for key in keys:
        assert not PRIVATE_JWK_MEMBERS & set(key), key
        assert key.get("use", "sig") == "sig"
        assert key["kty"] != "oct"


def test_token_from_token_endpoint_verifies_with_published_keys(client: TestClient) -> None:
    subject = user_token(client, "jane", AGENT[0], ["incidents:read"])
    token = exchanged(client, AGENT, subject, resource=INCIDENTS)
    keyset = KeySet.import_key_set(_jwks(client))
    decoded = jwt.decode(token, keyset, algorithms=["ES256", "RS256"])
    assert decoded.header["alg"] == "ES256"
    assert decoded.header["kid"] in {k["kid"] for k in _jwks(client)["keys"]}
    assert decoded.claims["sub"] == "jane"
    # The signature is really checked: a modified payload fails against the same keys.
    header, _, signature = token.split(".")
    other = base64.urlsafe_b64encode(json.dumps({**decoded.claims, "sub": "mallory"}).encode()).decode().rstrip("=")
    with pytest.raises(BadSignatureError):
        jwt.decode(f"{header}.{other}.{signature}", keyset, algorithms=["ES256", "RS256"])


def test_rs256_resource_token_verifies_with_published_rsa_key(client: TestClient) -> None:
    r = client.post("/admin/resources", json={"identifier": "https://legacy.example", "scopes": ["legacy:read"],
                                               "signing_alg": "RS256"}, headers=ADMIN)
    assert r.status_code == 200, r.text
    r = client.post("/admin/entitlements", json={"group": "it", "resource": "https://legacy.example",
                                                  "scopes": ["legacy:read"]}, headers=ADMIN)
    assert r.status_code == 200, r.text
    agent = client.get(f"/admin/agents/{AGENT[0]}", headers=ADMIN).json()
    update = {k: agent[k] for k in ("name", "description", "owners", "status", "may_impersonate", "subject_users",
                                    "subject_groups", "resources", "audiences")}
    update["resources"] = [*update["resources"], {"resource": "https://legacy.example", "scopes": ["legacy:read"]}]
    r = client.put(f"/admin/agents/{AGENT[0]}", json=update, headers=ADMIN)
    assert r.status_code == 200, r.text

    subject = user_token(client, "jane", AGENT[0], ["legacy:read"])
    token = exchanged(client, AGENT, subject, resource="https://legacy.example")
    jwks = _jwks(client)
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    assert decoded.header["alg"] == "RS256"
    rsa_kids = {k["kid"] for k in jwks["keys"] if k["kty"] == "RSA"}
    assert decoded.header["kid"] in rsa_kids
    assert decoded.claims["aud"] == "https://legacy.example"
    assert decoded.claims["scope"] == "legacy:read"
