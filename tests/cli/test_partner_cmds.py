"""``deputy partners add/list/show/remove`` and ``deputy issuers add --id-jag``."""

from __future__ import annotations

import json
from pathlib import Path



from tests.cli.conftest import fails, ok
PARTNER = "https://auth.saas.example/oauth2/default"


def test_add_show_list_remove(home: Path) -> None:
    out = ok(
        "partners", "add", PARTNER, "--name", "SaaS desk", "--agent", "incident-agent=0oa8f5j3ecb5w3dF35d7",
        "--scope", "xaa:read", "-s", "xaa:write", "--resource", "https://api.saas.example",
    )
    assert "saved" in out and "1 agent" in out
    assert json.loads(ok("partners", "show", PARTNER)) == {
        "issuer": PARTNER, "name": "SaaS desk", "agent_clients": {"incident-agent": "0oa8f5j3ecb5w3dF35d7"},
        "scopes": ["xaa:read", "xaa:write"], "resources": ["https://api.saas.example"], "signing_alg": "RS256",
    }
    listed = json.loads(ok("partners", "list", "--json"))
    assert [p["issuer"] for p in listed] == [PARTNER]
    table = ok("partners", "list")
    assert PARTNER in table and "incident-agent" in table
    assert "removed" in ok("partners", "remove", PARTNER)
    assert json.loads(ok("partners", "list", "--json")) == []
    assert "No partner authorization server" in fails("partners", "show", PARTNER)


def test_bad_input_is_explained(home: Path) -> None:
    assert "expected CLIENT_ID=REMOTE_CLIENT_ID" in fails("partners", "add", PARTNER, "--agent", "incident-agent")
    assert "'ghost'" in fails("partners", "add", PARTNER, "--agent", "ghost=x")
    assert "must use https" in fails("partners", "add", "http://auth.saas.example")
    assert "signing_alg" in fails("partners", "add", PARTNER, "--alg", "HS256")
    assert "no --agent given" in ok("partners", "add", PARTNER)


def test_issuers_add_id_jag(home: Path) -> None:
    idp = "https://idp.example.com"
    ok("issuers", "add", idp, "--jwks-uri", idp + "/jwks", "--id-jag")
    assert json.loads(ok("issuers", "show", idp))["id_jag"] is True
    ok("issuers", "add", idp, "--jwks-uri", idp + "/jwks")
    assert "id_jag" not in json.loads(ok("issuers", "show", idp))
