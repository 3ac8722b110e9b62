"""Administering partner authorization servers (ID-JAG issuance) and the ID-JAG flag of trusted
issuers: the schema (errors that name the field), the service (audited), realm files."""

from __future__ import annotations

from typing import Any

import pytest

from deputy.admin.issuer_schema import parse_trusted_issuer, trusted_issuer_to_dict
from deputy.admin.partner_schema import parse_partner_server, partner_server_to_dict
from deputy.admin.realm_file import export_realm, load_realm
from deputy.errors import InvalidInput, NotFound
from deputy.realm import PartnerServer
from deputy.runtime import Deputy
from tests.conftest import ISSUER

PARTNER = "https://auth.saas.example"
RAW: dict[str, Any] = {
    "issuer": PARTNER,
    "name": "SaaS desk",
    "agent_clients": {"incident-agent": "0oa8f5j3ecb5w3dF35d7"},
    "scopes": ["incidents:read", "tickets:read"],
    "resources": ["https://api.saas.example"],
    "signing_alg": "ES256",
}


def audit(deputy: Deputy, type_: str) -> list[dict[str, Any]]:
    return [r.event.to_dict() for r in deputy.store.audit.records() if r.event.type == type_]


def test_parse_and_round_trip() -> None:
    partner = parse_partner_server(RAW)
    assert partner == PartnerServer(
        issuer=PARTNER, name="SaaS desk", agent_clients=(("incident-agent", "0oa8f5j3ecb5w3dF35d7"),),
        scopes=("incidents:read", "tickets:read"), resources=("https://api.saas.example",), signing_alg="ES256",
    )
    assert partner_server_to_dict(partner) == RAW
    assert parse_partner_server({"issuer": PARTNER}).signing_alg == "RS256"  # the RFC 7523 must-implement


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"issuer": "http://auth.saas.example"}, "'issuer' must use https"),
        ({"issuer": PARTNER + "?tenant=1"}, "must not have a query"),
        ({"issuer": 7}, "'issuer' must be a URL"),
        ({"agent_clients": ["incident-agent"]}, "'agent_clients' must be a table"),
        ({"agent_clients": {"bad name!": "x"}}, "agent_clients['bad name!']"),
        ({"agent_clients": {"incident-agent": "has space"}}, "agent_clients['incident-agent']: the client_id"),
        ({"agent_clients": {"incident-agent": ""}}, "the client_id at the partner"),
        ({"scopes": ["ok", "not ok"]}, ".scopes: scopes must be a list of scope tokens"),
        ({"resources": "https://api.saas.example"}, "'resources' must be a list"),
        ({"resources": ["https://api.saas.example#x"]}, "resources[0]: resource"),
        ({"resources": ["relative/path"]}, "resources[0]"),
        ({"signing_alg": "HS256"}, "'signing_alg' must be one of"),
        ({"colour": "blue"}, "unknown field(s) ['colour']"),
    ],
)
def test_errors_name_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_partner_server({**RAW, **change}, "partners[3]")
    assert message in exc.value.description
    assert exc.value.description.startswith("partners[3]")


def test_saved_and_deleted_are_audited(deputy: Deputy) -> None:
    admin = deputy.admin("alice")
    admin.put_partner(parse_partner_server(RAW))
    (saved,) = audit(deputy, "partner.saved")
    assert saved["admin"] == "alice" and saved["audience"] == [PARTNER]
    assert saved["data"]["agent_clients"] == {"incident-agent": "0oa8f5j3ecb5w3dF35d7"}
    assert admin.get_partner(PARTNER) == parse_partner_server(RAW)
    admin.delete_partner(PARTNER)
    (deleted,) = audit(deputy, "partner.deleted")
    assert deleted["data"] == {"issuer": PARTNER}
    with pytest.raises(NotFound):
        admin.get_partner(PARTNER)
    with pytest.raises(NotFound):
        admin.delete_partner(PARTNER)


def test_own_issuer_and_unknown_agents_are_refused(deputy: Deputy) -> None:
    with pytest.raises(InvalidInput, match="own issuer"):
        deputy.admin().put_partner(PartnerServer(ISSUER))
    with pytest.raises(InvalidInput, match="'ghost-agent'"):
        deputy.admin().put_partner(PartnerServer(PARTNER, agent_clients=(("ghost-agent", "x"),)))
    assert deputy.store.partners.list_partners() == []
    assert audit(deputy, "partner.saved") == []


def test_realm_file_section(deputy: Deputy) -> None:
    data = {
        "agents": [{"client_id": "xaa-agent", "status": "active"}],
        "partners": [{**RAW, "agent_clients": {"xaa-agent": "remote-1"}}],  # an agent of the same file
    }
    summary = load_realm(deputy.admin("test"), data)
    assert summary.counts["partners"] == 1
    exported = export_realm(deputy.admin("test"))
    assert exported["partners"] == [{**RAW, "agent_clients": {"xaa-agent": "remote-1"}}]
    # and back in: idempotent
    load_realm(deputy.admin("test"), exported)
    assert deputy.store.partners.list_partners() == [parse_partner_server(exported["partners"][0])]


def test_realm_file_is_checked_before_anything_is_written(deputy: Deputy) -> None:
    data = {
        "groups": [{"name": "new-group"}],
        "partners": [{**RAW, "agent_clients": {"ghost-agent": "x"}}],
    }
    with pytest.raises(InvalidInput) as exc:
        load_realm(deputy.admin("test"), data)
    assert exc.value.description.startswith("partners[0]: ") and "'ghost-agent'" in exc.value.description
    assert deputy.store.realm.get_group("new-group") is None
    with pytest.raises(InvalidInput, match=r"partners\[0\] \(https://auth.saas.example\): 'signing_alg'"):
        load_realm(deputy.admin("test"), {"partners": [{**RAW, "signing_alg": "none"}]})


def test_realms_without_partners_export_as_before(deputy: Deputy) -> None:
    assert "partners" not in export_realm(deputy.admin("test"))
    assert "partners" not in load_realm(deputy.admin("test"), {"groups": [{"name": "g"}]}).counts


def test_trusted_issuer_id_jag_flag() -> None:
    base = {"issuer": "https://idp.example.com", "jwks_uri": "https://idp.example.com/jwks"}
    assert parse_trusted_issuer(base).id_jag is False
    assert "id_jag" not in trusted_issuer_to_dict(parse_trusted_issuer(base))
    on = parse_trusted_issuer({**base, "id_jag": True})
    assert on.id_jag is True and trusted_issuer_to_dict(on)["id_jag"] is True
    assert parse_trusted_issuer(trusted_issuer_to_dict(on)) == on
    with pytest.raises(InvalidInput, match="'id_jag' must be true or false"):
        parse_trusted_issuer({**base, "id_jag": "yes"})


def test_trusted_issuer_id_jag_flag_is_stored(deputy: Deputy) -> None:
    admin = deputy.admin("test")
    admin.put_issuer(parse_trusted_issuer({"issuer": "https://idp.example.com", "jwks_uri": "https://idp.example.com/jwks",
                                           "id_jag": True}))
    assert admin.get_issuer("https://idp.example.com").id_jag is True
    assert audit(deputy, "issuer.saved")[-1]["data"]["id_jag"] is True
