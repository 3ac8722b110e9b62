"""Token lineage: ancestry, descendants, and revocation that cascades down the exchange tree."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from deputy.audit import AuditEvent, verify_chain
from deputy.clock import FixedClock
from deputy.errors import InvalidRequest
from deputy.protocol.ports import TokenRecord
from deputy.runtime import Deputy
from deputy.storage.audit_store import AuditFilter


def _record(deputy: Deputy, jti: str, parent: str | None = None, *, client: str = "incident-agent",
            actors: tuple[str, ...] = (), mode: str = "delegation", ttl: int = 300, subject: str = "jane") -> TokenRecord:
    now = deputy.store.clock.now()
    return TokenRecord(jti=jti, subject=subject, client_id=client, grant_type="test", mode=mode, issued_at=now,
                       expires_at=now + ttl, audience=("https://incidents.example",), scope=("incidents:read",),
                       actors=actors, parent_jti=parent)


def _issue(deputy: Deputy, jti: str, *, parent: str | None = None, client: str = "incident-agent",
           actors: tuple[str, ...] = (), mode: str = "delegation", ttl: int = 300, subject: str = "jane") -> TokenRecord:
    record = _record(deputy, jti, parent, client=client, actors=actors, mode=mode, ttl=ttl, subject=subject)
    deputy.store.tokens.record_issuance(record, AuditEvent(type="token.issued", client_id=client, subject=subject,
                                                           actor_chain=actors, jti=jti, parent_jti=parent))
    return record


def _revoked(deputy: Deputy) -> set[str]:
    return {jti for jti in ("root", "mid", "leaf", "leaf2", "sibling", "other")
            if (r := deputy.store.tokens.get_token(jti)) is not None and r.revoked_at is not None}


@pytest.fixture
def tree(any_deputy: Deputy) -> Deputy:
    """root (user) → mid (incident-agent) → leaf (triage-agent) → leaf2 (report-agent);
    root → sibling (incident-agent); other (bob, unrelated)."""
    _issue(any_deputy, "root", mode="user")
    _issue(any_deputy, "mid", parent="root", actors=("incident-agent",))
    _issue(any_deputy, "leaf", parent="mid", client="triage-agent", actors=("triage-agent", "incident-agent"))
    _issue(any_deputy, "leaf2", parent="leaf", client="report-agent",
           actors=("report-agent", "triage-agent", "incident-agent"))
    _issue(any_deputy, "sibling", parent="root", actors=("incident-agent",))
    _issue(any_deputy, "other", client="triage-agent", subject="bob", mode="user")
    return any_deputy


def test_lineage_is_recorded(tree: Deputy) -> None:
    tokens = tree.store.tokens
    record = tokens.get_token("leaf2")
    assert record is not None
    assert record.actors == ("report-agent", "triage-agent", "incident-agent")
    assert record.parent_jti == "leaf" and record.revoked_at is None
    assert [r.jti for r in tokens.ancestry("leaf2")] == ["leaf2", "leaf", "mid", "root"]
    assert {r.jti for r in tokens.descendants("root")} == {"root", "mid", "leaf", "leaf2", "sibling"}
    assert {r.jti for r in tokens.descendants("mid")} == {"mid", "leaf", "leaf2"}
    assert tokens.descendants("nope") == [] and tokens.get_token("nope") is None


def test_descendants_list_every_token_after_its_parent(any_deputy: Deputy) -> None:
    """All issued in the same second (as chained exchanges are): order must still follow the tree,
    whatever the random jti values sort as."""
    for round_ in range(5):
        _issue(any_deputy, f"r{round_}", mode="user")
        _issue(any_deputy, f"z{round_}", parent=f"r{round_}", actors=("incident-agent",))
        _issue(any_deputy, f"a{round_}", parent=f"z{round_}", actors=("triage-agent", "incident-agent"))
        _issue(any_deputy, f"m{round_}", parent=f"a{round_}", actors=("x", "triage-agent", "incident-agent"))
        _issue(any_deputy, f"b{round_}", parent=f"r{round_}", actors=("incident-agent",))
        order = [r.jti for r in any_deputy.store.tokens.descendants(f"r{round_}")]
        assert sorted(order) == sorted(f"{p}{round_}" for p in "rzamb")
        assert order[0] == f"r{round_}"
        for record in any_deputy.store.tokens.descendants(f"r{round_}")[1:]:
            assert order.index(record.parent_jti or "") < order.index(record.jti), order


def test_revocation_cascades_over_three_levels(tree: Deputy) -> None:
    now = tree.store.clock.now()
    event = AuditEvent(type="token.revoked", jti="mid")
    assert tree.store.tokens.revoke("mid", "test", now, event) == 3
    assert _revoked(tree) == {"mid", "leaf", "leaf2"}
    leaf2 = tree.store.tokens.get_token("leaf2")
    assert leaf2 is not None and leaf2.revoked_at == now and leaf2.revoked_reason == "test"
    audit = list(tree.store.audit.records(AuditFilter(type="token.revoked")))
    assert len(audit) == 1 and audit[0].event.data["revoked_count"] == 3
    # Revoking the root now only counts what was still live.
    assert tree.store.tokens.revoke("root", "test", now, AuditEvent(type="token.revoked", jti="root")) == 2
    assert _revoked(tree) == {"root", "mid", "leaf", "leaf2", "sibling"}
    assert tree.store.tokens.revoke("root", "again", now, AuditEvent(type="token.revoked")) == 0
    assert tree.store.tokens.get_token("root").revoked_reason == "test"  # type: ignore[union-attr]
    assert verify_chain(tree.store.audit.records())[1] is None


def _revoke_by_actor(deputy: Deputy, agent_id: str) -> int:
    with deputy.store.db.write() as conn:
        return deputy.store.tokens.revoke_by_actor_in(conn, agent_id, f"agent {agent_id} suspended",
                                                      deputy.store.clock.now())


def test_revoke_by_actor_takes_every_token_the_agent_acted_in_and_below(tree: Deputy) -> None:
    assert _revoke_by_actor(tree, "triage-agent") == 3  # leaf (+leaf2 below), and bob's token issued to it
    assert _revoked(tree) == {"leaf", "leaf2", "other"}
    assert _revoke_by_actor(tree, "triage-agent") == 0  # idempotent


def test_revoke_by_actor_of_the_first_actor(tree: Deputy) -> None:
    assert _revoke_by_actor(tree, "incident-agent") == 5  # root was issued to it, so the whole tree
    assert _revoked(tree) == {"root", "mid", "leaf", "leaf2", "sibling"}


def test_revoke_by_actor_deep_in_the_chain_only(tree: Deputy) -> None:
    assert _revoke_by_actor(tree, "report-agent") == 1
    assert _revoked(tree) == {"leaf2"}
    assert _revoke_by_actor(tree, "nobody") == 0


def test_revoke_by_actor_skips_expired_roots(any_deputy: Deputy, clock: FixedClock) -> None:
    _issue(any_deputy, "old", actors=("incident-agent",), ttl=10)
    _issue(any_deputy, "live", actors=("incident-agent",), ttl=1000)
    clock.advance(11)
    assert _revoke_by_actor(any_deputy, "incident-agent") == 1
    assert any_deputy.store.tokens.get_token("old").revoked_at is None  # type: ignore[union-attr]
    assert any_deputy.store.tokens.get_token("live").revoked_at == clock.now()  # type: ignore[union-attr]


def test_issuance_and_its_audit_event_commit_together(any_deputy: Deputy) -> None:
    _issue(any_deputy, "dup")
    events_before = any_deputy.store.audit.count()
    with pytest.raises(IntegrityError):
        _issue(any_deputy, "dup")
    assert any_deputy.store.audit.count() == events_before  # no audit event without its token
    assert len(any_deputy.store.tokens.descendants("dup")) == 1


def test_child_recorded_after_its_parent_was_revoked_is_refused(any_deputy: Deputy) -> None:
    """An exchange that read its subject token just before a revocation and commits just after:
    refused inside the write's transaction, nothing stored; the rest of its batch is written."""
    _issue(any_deputy, "parent", mode="user")
    now = any_deputy.store.clock.now()
    assert any_deputy.store.tokens.revoke("parent", "compromised", now, AuditEvent(type="token.revoked")) == 1
    with pytest.raises(InvalidRequest) as exc:
        _issue(any_deputy, "late-child", parent="parent", actors=("incident-agent",))
    assert exc.value.reason == "subject_token_revoked"
    assert any_deputy.store.tokens.get_token("late-child") is None
    assert not [r for r in any_deputy.store.audit.records() if r.event.jti == "late-child"]
    _issue(any_deputy, "unrelated", actors=("incident-agent",))
    assert any_deputy.store.tokens.get_token("unrelated").revoked_at is None  # type: ignore[union-attr]


def test_a_refused_issuance_does_not_fail_the_rest_of_its_batch(any_deputy: Deputy) -> None:
    _issue(any_deputy, "parent", mode="user")
    _issue(any_deputy, "live-parent", mode="user")
    now = any_deputy.store.clock.now()
    any_deputy.store.tokens.revoke("parent", "compromised", now, AuditEvent(type="token.revoked"))
    items = [(_record(any_deputy, jti, parent), AuditEvent(type="token.issued", jti=jti))
             for jti, parent in (("a", "live-parent"), ("b", "parent"), ("c", None))]
    results = any_deputy.store.tokens._record_issuances(items)  # one batch, as group commit writes it
    assert [r is None for r in results] == [False, True, False]
    assert [any_deputy.store.tokens.get_token(j) is None for j in "abc"] == [False, True, False]
    assert verify_chain(any_deputy.store.audit.records())[1] is None
    assert [r.event.jti for r in any_deputy.store.audit.records()][-2:] == ["a", "c"]
