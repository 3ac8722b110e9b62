"""Token revocation (RFC 7009) and its cascade down the lineage tree."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import text

from deputy.clock import FixedClock
from deputy.errors import InvalidClient, InvalidRequest
from deputy.protocol.introspection import introspect
from deputy.protocol.ports import TokenLedger, TokenRecord
from deputy.protocol.tokens import TokenInactive, read_own_token
from deputy.realm import AgentStatus
from deputy.runtime import Deputy
from tests.conftest import AGENT, INCIDENTS, TRIAGE
from tests.helpers import form
from tests.protocol.support import (
    add_agent,
    base_claims,
    claims_of,
    events,
    exchange,
    forge_own_token,
    is_active,
    user_token,
)


def revoke(deputy: Deputy, token: str, auth: tuple[str, str] = AGENT, **params: str) -> dict[str, object]:
    response = deputy.revocation.handle(form({"token": token, **params}, auth))
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    return response.body


@pytest.fixture
def tree(deputy: Deputy) -> dict[str, str]:
    """jane's user token → incident-agent's token for triage-agent → triage-agent's token, plus a
    sibling token for the incident desk."""
    root = user_token(deputy)
    child = exchange(deputy, root, audience="triage-agent").body["access_token"]
    grandchild = exchange(deputy, child, TRIAGE, resource=INCIDENTS).body["access_token"]
    sibling = exchange(deputy, root).body["access_token"]
    return {"root": root, "child": child, "grandchild": grandchild, "sibling": sibling}


def test_revoke_own_token(deputy: Deputy) -> None:
    token = exchange(deputy, user_token(deputy)).body["access_token"]
    assert revoke(deputy, token) == {}
    assert not is_active(deputy, token)
    record = deputy.store.tokens.get_token(claims_of(token)["jti"])
    assert record is not None and record.revoked_at is not None
    event = events(deputy, "token.revoked")[-1]
    assert event.jti == claims_of(token)["jti"]
    assert event.client_id == "incident-agent"
    assert event.data["revoked_count"] == 1


def test_revocation_cascades(deputy: Deputy, tree: dict[str, str]) -> None:
    revoke(deputy, tree["root"])
    for name in ("root", "child", "grandchild", "sibling"):
        assert not is_active(deputy, tree[name]), name
    assert events(deputy, "token.revoked")[-1].data["revoked_count"] == 4
    for name in ("child", "grandchild", "sibling"):
        record = deputy.store.tokens.get_token(claims_of(tree[name])["jti"])
        assert record is not None and record.revoked_at is not None, name


def test_revoking_a_middle_token_spares_its_parent_and_siblings(deputy: Deputy, tree: dict[str, str]) -> None:
    revoke(deputy, tree["child"])
    assert not is_active(deputy, tree["child"])
    assert not is_active(deputy, tree["grandchild"])
    assert is_active(deputy, tree["root"])
    assert is_active(deputy, tree["sibling"])
    assert events(deputy, "token.revoked")[-1].data["revoked_count"] == 2


def test_revoked_tree_cannot_be_exchanged(deputy: Deputy, tree: dict[str, str]) -> None:
    revoke(deputy, tree["root"])
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, tree["child"], TRIAGE)
    assert exc.value.reason == "subject_token_revoked"


def test_prior_actor_may_revoke_downstream_token(deputy: Deputy, tree: dict[str, str]) -> None:
    revoke(deputy, tree["grandchild"], AGENT)  # incident-agent acted earlier in its chain
    assert not is_active(deputy, tree["grandchild"])


def test_audience_may_revoke(deputy: Deputy, tree: dict[str, str]) -> None:
    revoke(deputy, tree["child"], TRIAGE)  # the child was issued for triage-agent
    assert not is_active(deputy, tree["child"])


def test_unrelated_client_may_not_revoke(deputy: Deputy, tree: dict[str, str]) -> None:
    other = add_agent(deputy, "other-agent", {INCIDENTS: ("incidents:read",)})
    assert revoke(deputy, tree["root"], other) == {}  # same answer, so nothing can be probed
    assert is_active(deputy, tree["root"])
    assert is_active(deputy, tree["grandchild"])
    refused = events(deputy, "token.revocation_refused")[-1]
    assert refused.outcome == "failure"
    assert refused.client_id == "other-agent"
    assert refused.reason == "not_token_owner"
    assert refused.jti == claims_of(tree["root"])["jti"]


def test_triage_agent_may_not_revoke_the_users_token(deputy: Deputy, tree: dict[str, str]) -> None:
    revoke(deputy, tree["root"], TRIAGE)
    assert is_active(deputy, tree["root"])


@pytest.mark.parametrize("token", ["garbage", "a.b.c"])
def test_invalid_token_answers_200(deputy: Deputy, token: str) -> None:
    before = deputy.store.audit.count()
    assert revoke(deputy, token) == {}
    assert deputy.store.audit.count() == before


def test_revoking_twice(deputy: Deputy) -> None:
    token = exchange(deputy, user_token(deputy)).body["access_token"]
    revoke(deputy, token)
    count = len(events(deputy, "token.revoked"))
    assert revoke(deputy, token) == {}
    assert len(events(deputy, "token.revoked")) == count


def test_expired_token_can_still_be_revoked(deputy: Deputy, clock: FixedClock, tree: dict[str, str]) -> None:
    """An expired parent is revoked so that nothing derived from it can be revived."""
    clock.advance(301)
    revoke(deputy, tree["child"])
    record = deputy.store.tokens.get_token(claims_of(tree["child"])["jti"])
    assert record is not None and record.revoked_at == clock.now()


def test_hint_is_only_a_hint(deputy: Deputy) -> None:
    token = exchange(deputy, user_token(deputy)).body["access_token"]
    revoke(deputy, token, token_type_hint="refresh_token")
    assert not is_active(deputy, token)


def test_revocation_requires_client_authentication(deputy: Deputy) -> None:
    token = exchange(deputy, user_token(deputy)).body["access_token"]
    with pytest.raises(InvalidClient) as exc:
        deputy.revocation.handle(form({"token": token}))
    assert exc.value.status_code == 401
    with pytest.raises(InvalidClient):
        deputy.revocation.handle(form({"token": token, "client_id": "incident-agent"}))
    assert is_active(deputy, token)


def test_token_parameter_is_required(deputy: Deputy) -> None:
    with pytest.raises(InvalidRequest) as exc:
        deputy.revocation.handle(form({}, AGENT))
    assert exc.value.reason == "missing_parameter"


def test_suspension_revokes_everything_the_agent_acted_in(deputy: Deputy, tree: dict[str, str]) -> None:
    _, revoked = deputy.admin("test").set_agent_status("incident-agent", AgentStatus.SUSPENDED)
    assert revoked == 4  # the user token issued to it, and everything derived from it
    deputy.admin("test").set_agent_status("incident-agent", AgentStatus.ACTIVE)
    for name, token in tree.items():
        assert not is_active(deputy, token), name  # re-activation does not revive revoked tokens


def test_child_recorded_after_its_parent_was_revoked_is_refused(deputy: Deputy) -> None:
    """The race: an exchange reads a live parent, the parent is revoked (cascading over the
    children that exist so far), then the new child is to be recorded. The write re-checks the
    parent inside its transaction and refuses: no token row, no ``token.issued`` event."""
    root = user_token(deputy)
    revoke(deputy, root)
    issued_before = len(events(deputy, "token.issued"))
    claims = base_claims(deputy, scope="incidents:read", act={"sub": "incident-agent", "iss": deputy.settings.issuer})
    with pytest.raises(InvalidRequest) as exc:
        forge_own_token(deputy, claims, actors=("incident-agent",), parent_jti=claims_of(root)["jti"])
    assert exc.value.reason == "subject_token_revoked"
    assert deputy.store.tokens.get_token(claims["jti"]) is None
    assert len(events(deputy, "token.issued")) == issued_before


def test_exchange_of_a_token_revoked_after_its_lineage_was_cached_is_refused(deputy: Deputy) -> None:
    """The recent-lineage cache may hold a live lineage for up to a second; a revocation made
    meanwhile by another process (simulated: the row updated behind this process's back, so the
    cache is not told) must still refuse the exchange, at commit, and issue nothing."""
    subject = user_token(deputy)
    exchange(deputy, subject)  # fills the cache with the subject token's live lineage
    jti = claims_of(subject)["jti"]
    with deputy.store.db.write() as conn:  # not through TokenStore: as another process would
        conn.execute(text("UPDATE tokens SET revoked_at = 1, revoked_reason = 'elsewhere' WHERE jti = :jti"),
                     {"jti": jti})
    assert deputy.store.tokens.lineage_cache.get(jti, lambda: [])[0].revoked_at is None  # still cached
    issued_before = len(events(deputy, "token.issued"))
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, subject)
    assert exc.value.reason == "subject_token_revoked"
    assert len(events(deputy, "token.issued")) == issued_before
    refused = events(deputy, "token.refused")[-1]
    assert refused.reason == "subject_token_revoked" and "before" in (refused.detail or "")


def test_revocation_through_this_process_empties_the_lineage_cache(deputy: Deputy) -> None:
    subject = user_token(deputy)
    exchange(deputy, subject)
    hits = deputy.store.tokens.lineage_cache.hits
    exchange(deputy, subject)
    assert deputy.store.tokens.lineage_cache.hits == hits + 1
    revoke(deputy, subject)
    misses = deputy.store.tokens.lineage_cache.misses
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, subject)
    assert exc.value.reason == "subject_token_revoked"
    assert deputy.store.tokens.lineage_cache.misses == misses + 1  # refused at the read, not at commit


def test_introspection_never_uses_the_lineage_cache(deputy: Deputy) -> None:
    subject = user_token(deputy)
    exchange(deputy, subject)
    jti = claims_of(subject)["jti"]
    with deputy.store.db.write() as conn:
        conn.execute(text("UPDATE tokens SET revoked_at = 1, revoked_reason = 'elsewhere' WHERE jti = :jti"),
                     {"jti": jti})
    assert not is_active(deputy, subject)


class _LedgerWithRevokedAncestors:
    """The real ledger, except that every ancestor reads as revoked while the token itself does
    not: what a store without cascade-on-insert would show after the race above."""

    def __init__(self, real: TokenLedger) -> None:
        self.real = real

    def ancestry(self, jti: str, *, recent: bool = False) -> list[TokenRecord]:
        lineage = self.real.ancestry(jti, recent=recent)
        return lineage[:1] + [replace(r, revoked_at=1, revoked_reason="test") for r in lineage[1:]]

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)


def test_liveness_checks_every_ancestor_not_only_the_token(deputy: Deputy) -> None:
    child = exchange(deputy, user_token(deputy), audience="triage-agent").body["access_token"]
    grandchild = exchange(deputy, child, TRIAGE).body["access_token"]
    ctx = replace(deputy.context, tokens=_LedgerWithRevokedAncestors(deputy.context.tokens))
    assert read_own_token(child, deputy.context).jti == claims_of(child)["jti"]
    for token in (child, grandchild):
        with pytest.raises(TokenInactive) as exc:
            read_own_token(token, ctx)
        assert exc.value.reason == "subject_token_revoked"
        assert "ancestor" in exc.value.detail
        assert introspect(token, ctx) == {"active": False}
