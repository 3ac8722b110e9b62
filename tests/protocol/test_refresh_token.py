"""The refresh_token grant: rotation, reuse detection (the whole family and what it gave is
revoked), narrowing, and the grant it depends on."""

from __future__ import annotations

from dataclasses import replace

import pytest

from deputy.clock import FixedClock
from deputy.errors import InvalidGrant, InvalidScope, InvalidTarget
from deputy.protocol.sign_in_ports import opaque_hash
from deputy.runtime import Deputy
from tests.conftest import INCIDENTS, TRIAGE
from tests.protocol.sign_in_support import refresh, sign_in_tokens
from tests.protocol.support import assert_refused, claims_of, events, exchange, is_active


def test_rotation(deputy: Deputy) -> None:
    first = sign_in_tokens(deputy)
    second = refresh(deputy, first["refresh_token"]).body
    assert second["refresh_token"] != first["refresh_token"]
    assert claims_of(second["access_token"])["sub"] == "jane"
    assert "id_token" in second and "nonce" not in claims_of(second["id_token"])
    assert claims_of(second["id_token"])["auth_time"] == claims_of(first["id_token"])["auth_time"]
    third = refresh(deputy, second["refresh_token"]).body
    assert is_active(deputy, third["access_token"])
    stored = deputy.store.codes.get_refresh_token(opaque_hash(first["refresh_token"]))
    assert stored is not None and stored.used_at is not None
    assert events(deputy, "token.issued")[-1].grant_type == "refresh_token"


def test_reuse_revokes_the_family_and_its_access_tokens(deputy: Deputy) -> None:
    first = sign_in_tokens(deputy)
    second = refresh(deputy, first["refresh_token"]).body
    exchanged = exchange(deputy, second["access_token"], resource=INCIDENTS).body["access_token"]
    other_login = sign_in_tokens(deputy)  # another family (another device): untouched
    with pytest.raises(InvalidGrant) as exc:
        refresh(deputy, first["refresh_token"])  # the attacker (or the victim) replays the old one
    assert_refused(deputy, exc.value, "invalid_grant", "refresh_token_reused")
    for token in (first["access_token"], second["access_token"], exchanged):
        assert not is_active(deputy, token)
    with pytest.raises(InvalidGrant) as exc:
        refresh(deputy, second["refresh_token"])  # the family's current token is dead too
    assert exc.value.reason == "refresh_token_invalid"
    assert is_active(deputy, other_login["access_token"])
    assert refresh(deputy, other_login["refresh_token"]).status == 200
    reused = events(deputy, "refresh_token.reused")
    assert reused and reused[-1].data["revoked_count"] == 3


def test_narrower_scope(deputy: Deputy) -> None:
    first = sign_in_tokens(deputy, resource=INCIDENTS, scope="openid incidents:read incidents:write")
    narrow = refresh(deputy, first["refresh_token"], scope="incidents:read").body
    assert claims_of(narrow["access_token"])["scope"] == "incidents:read"
    # the new refresh token keeps the whole grant (RFC 6749 §6)
    again = refresh(deputy, narrow["refresh_token"]).body
    assert claims_of(again["access_token"])["scope"] == "incidents:read incidents:write openid"


def test_wider_scope_is_refused(deputy: Deputy) -> None:
    first = sign_in_tokens(deputy, resource=INCIDENTS, scope="incidents:read")
    with pytest.raises(InvalidScope) as exc:
        refresh(deputy, first["refresh_token"], scope="incidents:read incidents:write")
    assert_refused(deputy, exc.value, "invalid_scope", "scope_not_granted")


def test_other_resource_is_refused(deputy: Deputy) -> None:
    first = sign_in_tokens(deputy, resource=INCIDENTS, scope="incidents:read")
    with pytest.raises(InvalidTarget):
        refresh(deputy, first["refresh_token"], resource="https://other.example")


def test_lost_entitlement_shrinks_what_refresh_gives(deputy: Deputy) -> None:
    from deputy.realm import Entitlement

    first = sign_in_tokens(deputy, resource=INCIDENTS, scope="incidents:read incidents:write")
    deputy.admin("test").set_entitlement(Entitlement("it", INCIDENTS, ("incidents:read",)))
    body = refresh(deputy, first["refresh_token"]).body
    assert claims_of(body["access_token"])["scope"] == "incidents:read"


def test_another_client_cannot_use_it(deputy: Deputy) -> None:
    first = sign_in_tokens(deputy)
    with pytest.raises(InvalidGrant) as exc:
        refresh(deputy, first["refresh_token"], auth=TRIAGE)
    assert exc.value.reason == "refresh_token_invalid"
    assert refresh(deputy, first["refresh_token"]).status == 200


def test_expired(deputy: Deputy, clock: FixedClock) -> None:
    first = sign_in_tokens(deputy)
    clock.advance(deputy.settings.refresh_token_ttl)
    with pytest.raises(InvalidGrant) as exc:
        refresh(deputy, first["refresh_token"])
    assert exc.value.reason == "refresh_token_invalid"


def test_rotation_does_not_extend_the_family(deputy: Deputy, clock: FixedClock) -> None:
    first = sign_in_tokens(deputy)
    clock.advance(deputy.settings.refresh_token_ttl - 10)
    second = refresh(deputy, first["refresh_token"]).body
    clock.advance(10)
    with pytest.raises(InvalidGrant):
        refresh(deputy, second["refresh_token"])


def test_withdrawn_consent_ends_refresh(deputy: Deputy) -> None:
    first = sign_in_tokens(deputy)
    consent = deputy.store.consents.find_consent("jane", "incident-agent", None)
    assert consent is not None
    deputy.admin("test").withdraw_consent(consent.consent_id)
    with pytest.raises(InvalidGrant) as exc:
        refresh(deputy, first["refresh_token"])
    assert exc.value.reason == "refresh_token_invalid"  # withdrawal revoked it


def test_disabled_user_cannot_refresh(deputy: Deputy) -> None:
    first = sign_in_tokens(deputy)
    jane = deputy.store.realm.get_user("jane")
    assert jane is not None
    deputy.admin("test").put_user(replace(jane, disabled=True))
    with pytest.raises(InvalidGrant) as exc:
        refresh(deputy, first["refresh_token"])
    assert exc.value.reason == "grant_withdrawn"


def test_unknown_refresh_token(deputy: Deputy) -> None:
    with pytest.raises(InvalidGrant) as exc:
        refresh(deputy, "dprt_nothing")
    assert exc.value.reason == "refresh_token_invalid"


def test_revoking_a_refresh_token_ends_its_family(deputy: Deputy) -> None:
    """RFC 7009 §2.1: revocation supports refresh tokens, and ends the grant's access tokens."""
    from tests.helpers import form

    first = sign_in_tokens(deputy)
    exchanged = exchange(deputy, first["access_token"], resource=INCIDENTS).body["access_token"]
    # another client's attempt is refused quietly (200, audited, nothing revoked)
    assert deputy.revocation.handle(form({"token": first["refresh_token"]}, TRIAGE)).status == 200
    assert is_active(deputy, first["access_token"])
    assert events(deputy)[-1].type == "token.revocation_refused"
    from tests.conftest import AGENT

    assert deputy.revocation.handle(form({"token": first["refresh_token"]}, AGENT)).status == 200
    assert not is_active(deputy, first["access_token"]) and not is_active(deputy, exchanged)
    with pytest.raises(InvalidGrant):
        refresh(deputy, first["refresh_token"])
    assert events(deputy, "refresh_token.revoked")[-1].data["revoked_count"] == 2
