"""``deputy issuers add/list/show/remove`` against a store in a temporary home."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


from tests.cli.conftest import fails, ok
KEYCLOAK = "https://sso.example/realms/corp"


def test_add_show_list_remove(home: Path) -> None:
    out = ok(
        "issuers", "add", KEYCLOAK, "--discovery-url", KEYCLOAK + "/.well-known/openid-configuration",
        "--user-claim", "preferred_username", "--provision", "--groups-claim", "groups",
        "--group-map", "/it=it", "--agent", "incident-agent=incident-agent,account", "--alg", "RS256",
    )
    assert "trusted" in out and "preferred_username" in out
    shown = json.loads(ok("issuers", "show", KEYCLOAK))
    assert shown == {
        "issuer": KEYCLOAK, "discovery_url": KEYCLOAK + "/.well-known/openid-configuration",
        "user_claim": "preferred_username", "provision": True, "groups_claim": "groups",
        "group_map": {"/it": "it"}, "agent_audiences": {"incident-agent": ["incident-agent", "account"]},
        "algorithms": ["RS256"], "token_types": ["at+jwt", "JWT", ""],
    }
    assert json.loads(ok("issuers", "list", "--json")) == [shown]
    assert KEYCLOAK in ok("issuers", "list")
    assert "removed" in ok("issuers", "remove", KEYCLOAK)
    assert json.loads(ok("issuers", "list", "--json")) == []


def test_jwks_uri_and_token_types(home: Path) -> None:
    ok("issuers", "add", "https://idp.example", "--jwks-uri", "https://idp.example/keys",
       "--agent", "incident-agent=api://incidents", "--typ", "at+jwt", "--typ", "")
    shown = json.loads(ok("issuers", "show", "https://idp.example"))
    assert shown["jwks_uri"] == "https://idp.example/keys" and "discovery_url" not in shown
    assert shown["token_types"] == ["at+jwt", ""]


def test_warns_when_no_agent_is_named(home: Path) -> None:
    out = ok("issuers", "add", "https://idp.example", "--jwks-uri", "https://idp.example/keys")
    assert "no agent can exchange" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["https://idp.example"], "exactly one of"),
        (["https://idp.example", "--jwks-uri", "http://idp.example/keys"], "https"),
        (["https://idp.example", "--jwks-uri", "https://idp.example/k", "--alg", "none"], "never none"),
        (["https://idp.example", "--jwks-uri", "https://idp.example/k", "--agent", "ghost=x"], "'ghost'"),
        (["https://idp.example", "--jwks-uri", "https://idp.example/k", "--agent", "incident-agent"], "KEY=VALUE"),
    ],
)
def test_errors_are_readable(home: Path, args: list[str], message: str) -> None:
    out = fails("issuers", "add", *args)
    assert message in " ".join(out.split()), out


def test_show_and_remove_unknown(home: Path) -> None:
    assert "No trusted issuer" in fails("issuers", "show", "https://nobody.example")
    assert "No trusted issuer" in fails("issuers", "remove", "https://nobody.example")
