"""Administering trusted issuers: the service (audited), and the ``issuers`` section of realm files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deputy.admin.realm_file import export_realm, load_realm, read_realm_file
from deputy.errors import InvalidInput, NotFound
from deputy.realm import TrustedIssuer
from deputy.runtime import Deputy
from tests.conftest import ISSUER

OKTA = "https://corp.okta.com/oauth2/default"


def okta(**fields: object) -> TrustedIssuer:
    values: dict[str, object] = {
        "issuer": OKTA, "discovery_url": OKTA + "/.well-known/oauth-authorization-server",
        "user_claim": "sub", "agent_audiences": (("incident-agent", ("api://incidents",)),),
    }
    values.update(fields)
    return TrustedIssuer(**values)  # type: ignore[arg-type]


def audit(deputy: Deputy, type_: str) -> list[dict[str, object]]:
    return [r.event.to_dict() for r in deputy.store.audit.records() if r.event.type == type_]


def test_saved_and_deleted_are_audited(deputy: Deputy) -> None:
    admin = deputy.admin("alice")
    admin.put_issuer(okta())
    (saved,) = audit(deputy, "issuer.saved")
    assert saved["admin"] == "alice"
    assert saved["data"]["issuer"] == OKTA  # type: ignore[index]
    assert saved["data"]["agent_audiences"] == {"incident-agent": ["api://incidents"]}  # type: ignore[index]
    assert admin.get_issuer(OKTA) == okta()
    admin.delete_issuer(OKTA)
    (deleted,) = audit(deputy, "issuer.deleted")
    assert deleted["data"] == {"issuer": OKTA}
    with pytest.raises(NotFound):
        admin.get_issuer(OKTA)
    with pytest.raises(NotFound):
        admin.delete_issuer(OKTA)


def test_deputys_own_issuer_cannot_be_trusted_as_external(deputy: Deputy) -> None:
    with pytest.raises(InvalidInput, match="own issuer"):
        deputy.admin().put_issuer(okta(issuer=ISSUER))


def test_agents_must_exist(deputy: Deputy) -> None:
    with pytest.raises(InvalidInput, match="'ghost-agent'"):
        deputy.admin().put_issuer(okta(agent_audiences=(("ghost-agent", ("x",)),)))
    assert deputy.store.issuers.list_trusted_issuers() == []
    assert audit(deputy, "issuer.saved") == []


def test_mapped_groups_are_created(deputy: Deputy) -> None:
    deputy.admin().put_issuer(okta(groups_claim="groups", group_map=(("Engineering", "engineering"),)))
    assert deputy.store.realm.get_group("engineering") is not None


# -- realm files ------------------------------------------------------------------------------------

REALM_WITH_ISSUERS = """
[[agents]]
client_id = "mail-agent"
status = "active"

[[issuers]]
issuer = "https://keycloak.example/realms/corp"
discovery_url = "https://keycloak.example/realms/corp/.well-known/openid-configuration"
user_claim = "preferred_username"
provision = true
groups_claim = "groups"
group_map = { "/it" = "it", "/mail" = "mail-users" }
algorithms = ["RS256"]

[issuers.agent_audiences]
incident-agent = ["incident-agent"]
mail-agent = ["mail-agent", "account"]
"""


def test_load_and_export(deputy: Deputy, tmp_path: Path) -> None:
    path = tmp_path / "realm.toml"
    path.write_text(REALM_WITH_ISSUERS)
    summary = load_realm(deputy.admin(), read_realm_file(path))
    assert summary.counts["issuers"] == 1
    loaded = deputy.store.issuers.get_trusted_issuer("https://keycloak.example/realms/corp")
    assert loaded is not None
    assert loaded.audiences_for("mail-agent") == {"mail-agent", "account"}  # an agent from the same file
    assert loaded.group_map == (("/it", "it"), ("/mail", "mail-users"))
    exported = export_realm(deputy.admin())
    assert exported["issuers"] == [
        {
            "issuer": "https://keycloak.example/realms/corp",
            "discovery_url": "https://keycloak.example/realms/corp/.well-known/openid-configuration",
            "user_claim": "preferred_username", "provision": True, "groups_claim": "groups",
            "group_map": {"/it": "it", "/mail": "mail-users"},
            "agent_audiences": {"incident-agent": ["incident-agent"], "mail-agent": ["mail-agent", "account"]},
            "algorithms": ["RS256"], "token_types": ["at+jwt", "JWT", ""],
        }
    ]
    # the export loads back as it was
    json_path = tmp_path / "realm.json"
    json_path.write_text(json.dumps(exported))
    load_realm(deputy.admin(), read_realm_file(json_path))
    assert export_realm(deputy.admin()) == exported


def test_realm_without_issuers_looks_as_before(deputy: Deputy) -> None:
    assert "issuers" not in export_realm(deputy.admin())
    assert "issuers" not in load_realm(deputy.admin(), {"groups": [{"name": "x"}]}).counts


@pytest.mark.parametrize(
    ("issuer", "message"),
    [
        ({"issuer": "https://idp.example"}, "issuers[0] (https://idp.example): give exactly one"),
        ({"issuer": "https://idp.example", "jwks_uri": "https://idp.example/k",
          "agent_audiences": {"nobody": ["x"]}}, "issuers[0]: issuer https://idp.example: agent_audiences names agent 'nobody'"),
        ({"issuer": ISSUER, "jwks_uri": ISSUER + "/jwks"}, "issuers[0]: issuer http://127.0.0.1:8000: that is Deputy's own issuer"),
        ({"issuer": "https://idp.example", "jwks_uri": "https://idp.example/k", "algorithms": ["none"]}, "never none"),
    ],
)
def test_a_bad_issuer_changes_nothing(deputy: Deputy, issuer: dict[str, object], message: str) -> None:
    before = export_realm(deputy.admin())
    events_before = deputy.store.audit.count()
    data = {"users": [{"username": "zoe"}], "agents": [{"client_id": "new-agent"}], "issuers": [issuer]}
    with pytest.raises(InvalidInput) as exc:
        load_realm(deputy.admin(), data)
    assert message in exc.value.description, exc.value.description
    assert export_realm(deputy.admin()) == before
    assert deputy.store.audit.count() == events_before


def test_issuers_section_must_be_a_list_of_tables(deputy: Deputy) -> None:
    with pytest.raises(InvalidInput, match="'issuers' must be a list of tables"):
        load_realm(deputy.admin(), {"issuers": {"issuer": "https://idp.example"}})
