"""Trusted issuers in SQL, and provisioning the users they introduce (SQLite and PostgreSQL)."""

from __future__ import annotations

from deputy.audit import AuditEvent
from deputy.realm import TrustedIssuer, User
from deputy.runtime import Deputy

FULL = TrustedIssuer(
    issuer="https://login.microsoftonline.com/tid/v2.0",
    discovery_url="https://login.microsoftonline.com/tid/v2.0/.well-known/openid-configuration",
    user_claim="oid",
    provision=True,
    groups_claim="groups",
    group_map=(("0b1c-guid", "it"), ("9f3e-guid", "hr")),
    agent_audiences=(("incident-agent", ("api://incident-agent", "6e1f-app-guid")), ("triage-agent", ("api://t",))),
    algorithms=("RS256",),
    token_types=("JWT", ""),
)


def test_round_trip(any_deputy: Deputy) -> None:
    any_deputy.admin("test").put_issuer(FULL)
    assert any_deputy.store.issuers.get_trusted_issuer(FULL.issuer) == FULL
    assert any_deputy.store.issuers.list_trusted_issuers() == [FULL]


def test_defaults_round_trip(any_deputy: Deputy) -> None:
    minimal = TrustedIssuer("https://idp.example", jwks_uri="https://idp.example/keys")
    any_deputy.admin("test").put_issuer(minimal)
    assert any_deputy.store.issuers.get_trusted_issuer(minimal.issuer) == minimal


def test_replace_and_delete(any_deputy: Deputy) -> None:
    admin = any_deputy.admin("test")
    admin.put_issuer(FULL)
    changed = TrustedIssuer(FULL.issuer, jwks_uri="https://login.microsoftonline.com/tid/discovery/v2.0/keys")
    admin.put_issuer(changed)
    assert any_deputy.store.issuers.list_trusted_issuers() == [changed]
    admin.delete_issuer(FULL.issuer)
    assert any_deputy.store.issuers.get_trusted_issuer(FULL.issuer) is None
    assert any_deputy.store.issuers.list_trusted_issuers() == []


def test_issuers_are_listed_in_order(any_deputy: Deputy) -> None:
    admin = any_deputy.admin("test")
    for name in ("https://c.example", "https://a.example", "https://b.example"):
        admin.put_issuer(TrustedIssuer(name, jwks_uri=name + "/jwks"))
    assert [t.issuer for t in any_deputy.store.issuers.list_trusted_issuers()] == [
        "https://a.example", "https://b.example", "https://c.example"]


def _provisioned(deputy: Deputy) -> list[AuditEvent]:
    return [r.event for r in deputy.store.audit.records() if r.event.type == "user.provisioned"]


def test_provision_creates_user_groups_and_event_together(any_deputy: Deputy) -> None:
    event = AuditEvent(type="user.provisioned", subject="carol", data={"issuer": "https://idp.example"})
    user = any_deputy.store.provisioning.provision_user(User("carol", "Carol", "c@corp.example", ("it", "new-group")), event)
    assert user == User("carol", "Carol", "c@corp.example", ("it", "new-group"))
    assert any_deputy.store.realm.get_group("new-group") is not None
    assert any_deputy.store.realm.get_group("it") is not None
    assert [e.subject for e in _provisioned(any_deputy)] == ["carol"]


def test_provision_of_an_existing_user_changes_nothing(any_deputy: Deputy) -> None:
    jane = any_deputy.store.realm.get_user("jane")
    event = AuditEvent(type="user.provisioned", subject="jane")
    assert any_deputy.store.provisioning.provision_user(User("jane", groups=("hr",)), event) == jane
    assert _provisioned(any_deputy) == []
