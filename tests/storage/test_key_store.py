"""Signing keys: rotation keeps the old key published for the overlap, then retires it on time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deputy.clock import FixedClock
from deputy.jose import JWTInvalid, verify_jwt
from deputy.protocol.introspection import introspect
from deputy.runtime import Deputy
from deputy.storage import Store

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}


def _kids(deputy: Deputy) -> dict[str, str]:
    return {k["kid"]: k["alg"] for k in deputy.store.keys.key_ring().public_jwks()["keys"]}


def _user_token(deputy: Deputy) -> str:
    return deputy.admin().issue_user_token("jane", "incident-agent", ["incidents:read"], ttl=7200)


def _verifies(deputy: Deputy, token: str) -> bool:
    ring = deputy.store.keys.key_ring()
    try:
        verify_jwt(token, ring.verification_keys, algorithms=("ES256", "RS256"), now=deputy.store.clock.now(),
                   typ="at+jwt", issuer=deputy.settings.issuer, required=("exp",))
    except JWTInvalid:
        return False
    return True


def test_first_start_has_one_active_key_per_algorithm(deputy: Deputy) -> None:
    stored = deputy.store.keys.stored_keys()
    assert sorted(k.alg for k in stored) == ["ES256", "RS256"]
    assert all(k.retire_at is None for k in stored)
    deputy.store.keys.ensure_keys()  # idempotent
    assert len(deputy.store.keys.stored_keys()) == 2
    for jwk in deputy.store.keys.key_ring().public_jwks()["keys"]:
        assert not PRIVATE_MEMBERS & set(jwk)
    for key in stored:
        assert key.private_jwk["d"] not in repr(key)  # StoredKey never prints its private part


def test_rotation_overlap_then_retirement(deputy: Deputy, clock: FixedClock) -> None:
    old_kid = deputy.store.keys.key_ring().active_kid("ES256")
    rs_kid = deputy.store.keys.key_ring().active_kid("RS256")
    before = _user_token(deputy)
    assert introspect(before, deputy.context)["active"] is True

    new = deputy.store.keys.rotate("ES256", overlap_seconds=600)
    assert new.kid != old_kid
    ring = deputy.store.keys.key_ring()
    assert ring.active_kid("ES256") == new.kid
    assert set(_kids(deputy)) == {old_kid, new.kid, rs_kid}  # old key still published
    retiring = next(k for k in deputy.store.keys.stored_keys() if k.kid == old_kid)
    assert retiring.retire_at == clock.now() + 600

    after = _user_token(deputy)
    assert introspect(before, deputy.context)["active"] is True  # signed before rotation, still verifies
    assert introspect(after, deputy.context)["active"] is True

    clock.advance(599)
    assert old_kid in _kids(deputy)
    assert _verifies(deputy, before)

    clock.advance(1)  # retire_at reached
    assert set(_kids(deputy)) == {new.kid, rs_kid}
    assert not _verifies(deputy, before)
    assert introspect(before, deputy.context) == {"active": False}
    assert introspect(after, deputy.context)["active"] is True


def test_retirement_is_on_time_even_inside_the_refresh_interval(deputy: Deputy, clock: FixedClock) -> None:
    """The ring is cached for ``key_refresh_seconds`` (30); a shorter overlap must still end on time."""
    assert deputy.settings.key_refresh_seconds > 10
    old_kid = deputy.store.keys.key_ring().active_kid("ES256")
    before = _user_token(deputy)
    deputy.store.keys.rotate("ES256", overlap_seconds=10)
    assert old_kid in _kids(deputy)
    clock.advance(10)
    assert old_kid not in _kids(deputy)
    assert not _verifies(deputy, before)


def test_zero_overlap_retires_at_once(deputy: Deputy) -> None:
    old_kid = deputy.store.keys.key_ring().active_kid("ES256")
    before = _user_token(deputy)
    new = deputy.admin().rotate_key("ES256", overlap_seconds=0)  # e.g. after a key compromise
    assert set(_kids(deputy)) == {new.kid, deputy.store.keys.key_ring().active_kid("RS256")}
    assert old_kid not in _kids(deputy)
    assert introspect(before, deputy.context) == {"active": False}


@pytest.fixture
def second_process(deputy: Deputy, clock: FixedClock) -> Iterator[Store]:
    """Another server process on the same database."""
    other = Store(deputy.settings.db_url, clock, key_refresh_seconds=30)
    yield other
    other.close()


def test_other_processes_pick_up_a_rotation(deputy: Deputy, clock: FixedClock, second_process: Store) -> None:
    old_kid = second_process.keys.key_ring().active_kid("ES256")
    new = deputy.store.keys.rotate("ES256", overlap_seconds=3600)
    assert second_process.keys.key_ring().active_kid("ES256") == old_kid  # cached for now
    clock.advance(30)
    ring = second_process.keys.key_ring()
    assert ring.active_kid("ES256") == new.kid
    assert {k["kid"] for k in ring.public_jwks()["keys"]} >= {old_kid, new.kid}


def test_rotate_rsa(deputy: Deputy, clock: FixedClock) -> None:
    es_kid = deputy.store.keys.key_ring().active_kid("ES256")
    new = deputy.store.keys.rotate("RS256", overlap_seconds=100)
    assert new.alg == "RS256"
    assert deputy.store.keys.key_ring().active_kid("ES256") == es_kid  # the other algorithm is untouched
    assert sorted(_kids(deputy).values()) == ["ES256", "RS256", "RS256"]
    clock.advance(100)
    assert sorted(_kids(deputy).values()) == ["ES256", "RS256"]
