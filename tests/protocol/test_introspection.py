"""Token introspection (RFC 7662): liveness follows the whole lineage."""

from __future__ import annotations

import pytest

from deputy.clock import FixedClock
from deputy.errors import InvalidClient, InvalidRequest, UnauthorizedClient
from deputy.realm import AgentStatus, User
from deputy.runtime import Deputy
from tests.conftest import AGENT, INCIDENTS, ISSUER, TRIAGE
from tests.helpers import form
from tests.protocol.support import (
    base_claims,
    claims_of,
    exchange,
    forge_own_token,
    introspect,
    is_active,
    user_token,
)


def test_active_delegated_token(deputy: Deputy, clock: FixedClock) -> None:
    subject = user_token(deputy)
    token = exchange(deputy, subject, scope="incidents:read").body["access_token"]
    response = deputy.introspection.handle(form({"token": token}, TRIAGE))
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.body
    claims = claims_of(token)
    assert body["active"] is True
    assert body["token_type"] == "Bearer"
    assert body["sub"] == "jane"
    assert body["username"] == "jane"
    assert body["client_id"] == "incident-agent"
    assert body["scope"] == "incidents:read"
    assert body["aud"] == INCIDENTS
    assert body["iss"] == ISSUER
    assert body["jti"] == claims["jti"]
    assert body["exp"] == claims["exp"] == clock.now() + 300
    assert body["act"] == claims["act"]
    assert body["deputy_mode"] == "delegation"


def test_user_token_is_reported_as_such(deputy: Deputy) -> None:
    body = introspect(deputy, user_token(deputy, may_act={"sub": "incident-agent"}))
    assert body["active"] is True
    assert body["deputy_mode"] == "user"
    assert body["may_act"] == {"sub": "incident-agent"}
    assert "act" not in body


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
def test_garbage_is_inactive(deputy: Deputy, token: str) -> None:
    assert deputy.introspection.handle(form({"token": token}, AGENT)).body == {"active": False}


def test_expired_token_is_inactive(deputy: Deputy, clock: FixedClock) -> None:
    token = exchange(deputy, user_token(deputy)).body["access_token"]
    clock.advance(299)
    assert is_active(deputy, token)
    clock.advance(1)
    assert not is_active(deputy, token)


def test_child_dies_with_its_expired_parent(deputy: Deputy, clock: FixedClock) -> None:
    """A token is live only while every token it was exchanged from is (own.py's contract)."""
    subject = user_token(deputy, ttl=100)
    clock.advance(90)
    child = exchange(deputy, subject).body["access_token"]
    assert claims_of(child)["exp"] <= claims_of(subject)["exp"]  # capped at the parent's expiry
    assert is_active(deputy, child)
    clock.advance(10)
    assert not is_active(deputy, subject)
    assert not is_active(deputy, child)


def test_unknown_jti_signed_by_us_is_inactive(deputy: Deputy) -> None:
    token = forge_own_token(deputy, base_claims(deputy, scope="incidents:read"), mode=None)
    assert not is_active(deputy, token)


def test_lineage_mismatch_is_inactive(deputy: Deputy) -> None:
    """A genuine jti with a different subject in the JWT than in the lineage record."""
    claims = base_claims(deputy, scope="incidents:read")
    forge_own_token(deputy, claims)
    tampered = forge_own_token(deputy, {**claims, "sub": "bob"}, mode=None)
    assert not is_active(deputy, tampered)


def test_token_from_another_issuer_is_inactive(deputy: Deputy) -> None:
    token = forge_own_token(deputy, base_claims(deputy, iss="https://other.example", scope="x"))
    assert not is_active(deputy, token)


def test_revoked_token_is_inactive(deputy: Deputy) -> None:
    token = exchange(deputy, user_token(deputy)).body["access_token"]
    deputy.admin("test").revoke_token(claims_of(token)["jti"])
    assert not is_active(deputy, token)


def test_suspended_actor_makes_token_inactive(deputy: Deputy) -> None:
    token = exchange(deputy, user_token(deputy)).body["access_token"]
    deputy.admin("test").set_agent_status("incident-agent", AgentStatus.SUSPENDED)
    assert deputy.introspection.handle(form({"token": token}, TRIAGE)).body == {"active": False}


def test_staged_prior_actor_makes_chain_inactive(deputy: Deputy) -> None:
    """Staging through the admin service revokes the agent's tokens; a status written straight
    to the store (revoking nothing) must still be caught by the liveness check on every actor."""
    hop1 = exchange(deputy, user_token(deputy), audience="triage-agent").body["access_token"]
    hop2 = exchange(deputy, hop1, TRIAGE).body["access_token"]
    set_status_without_revoking(deputy, "incident-agent", AgentStatus.STAGED)
    assert deputy.introspection.handle(form({"token": hop2}, TRIAGE)).body == {"active": False}
    set_status_without_revoking(deputy, "incident-agent", AgentStatus.ACTIVE)
    assert deputy.introspection.handle(form({"token": hop2}, TRIAGE)).body["active"] is True
    deputy.admin("test").set_agent_status("incident-agent", AgentStatus.STAGED)
    deputy.admin("test").set_agent_status("incident-agent", AgentStatus.ACTIVE)
    assert deputy.introspection.handle(form({"token": hop2}, TRIAGE)).body == {"active": False}


def set_status_without_revoking(deputy: Deputy, client_id: str, status: AgentStatus) -> None:
    from dataclasses import replace

    agent = deputy.store.realm.get_agent(client_id)
    assert agent is not None
    with deputy.store.db.write() as conn:
        deputy.store.realm.put_agent(conn, replace(agent, status=status), deputy.store.clock.now())


def test_deleted_actor_makes_token_inactive(deputy: Deputy) -> None:
    hop1 = exchange(deputy, user_token(deputy), audience="triage-agent").body["access_token"]
    hop2 = exchange(deputy, hop1, TRIAGE).body["access_token"]
    deputy.admin("test").delete_agent("incident-agent")
    assert deputy.introspection.handle(form({"token": hop2}, TRIAGE)).body == {"active": False}


def test_disabled_user_makes_token_inactive(deputy: Deputy) -> None:
    token = exchange(deputy, user_token(deputy)).body["access_token"]
    deputy.admin("test").put_user(User("jane", groups=("it",), disabled=True))
    assert not is_active(deputy, token)
    deputy.admin("test").put_user(User("jane", groups=("it",)))
    assert is_active(deputy, token)


def test_rotated_key_still_verifies_during_overlap(deputy: Deputy, clock: FixedClock) -> None:
    token = exchange(deputy, user_token(deputy)).body["access_token"]
    deputy.admin("test").rotate_key("ES256", overlap_seconds=3600)
    fresh = exchange(deputy, user_token(deputy)).body["access_token"]
    assert claims_of(token)["jti"] != claims_of(fresh)["jti"]
    from tests.protocol.support import header_of

    assert header_of(token)["kid"] != header_of(fresh)["kid"]
    assert is_active(deputy, token)
    assert is_active(deputy, fresh)


def test_introspection_requires_client_authentication(deputy: Deputy) -> None:
    token = exchange(deputy, user_token(deputy)).body["access_token"]
    with pytest.raises(InvalidClient) as exc:
        deputy.introspection.handle(form({"token": token}))
    assert exc.value.error == "invalid_client"
    assert exc.value.reason == "client_auth_missing"
    with pytest.raises(InvalidClient) as exc:
        deputy.introspection.handle(form({"token": token}, (AGENT[0], "wrong")))
    assert exc.value.reason == "client_secret_invalid"


def test_introspection_by_an_inactive_client(deputy: Deputy) -> None:
    token = exchange(deputy, user_token(deputy)).body["access_token"]
    deputy.admin("test").set_agent_status("triage-agent", AgentStatus.SUSPENDED)
    with pytest.raises(UnauthorizedClient) as exc:
        deputy.introspection.handle(form({"token": token}, TRIAGE))
    assert exc.value.error == "unauthorized_client"
    assert exc.value.reason == "client_not_active"


def test_token_parameter_is_required(deputy: Deputy) -> None:
    with pytest.raises(InvalidRequest) as exc:
        deputy.introspection.handle(form({"token_type_hint": "access_token"}, AGENT))
    assert exc.value.reason == "missing_parameter"


def test_duplicate_token_parameter(deputy: Deputy) -> None:
    token = user_token(deputy)
    with pytest.raises(InvalidRequest) as exc:
        deputy.introspection.handle(form({"token": [token, token]}, AGENT))
    assert exc.value.reason == "duplicate_parameter"


def test_any_hint_is_accepted(deputy: Deputy) -> None:
    token = user_token(deputy)
    for hint in ("access_token", "refresh_token", "something_else"):
        assert deputy.introspection.handle(form({"token": token, "token_type_hint": hint}, AGENT)).body["active"]


def test_inactive_response_carries_nothing_else(deputy: Deputy) -> None:
    token = exchange(deputy, user_token(deputy)).body["access_token"]
    deputy.admin("test").revoke_token(claims_of(token)["jti"])
    assert introspect(deputy, token) == {"active": False}


def test_user_deleted_then_recreated_with_other_groups(deputy: Deputy) -> None:
    """Introspection follows the user's state, not only the token's claims."""
    token = exchange(deputy, user_token(deputy)).body["access_token"]
    admin = deputy.admin("test")
    admin.delete_user("jane")
    assert not is_active(deputy, token)
    admin.put_user(User("jane", groups=("it",)))
    assert is_active(deputy, token)
