"""The key ring: signing keys, rotation overlap and the public JWKS."""

from __future__ import annotations

from dataclasses import replace

import pytest

from deputy.jose import KeyRing, generate_key, peek_claims, thumbprint, verify_jwt

NOW = 1_800_000_000


def test_generated_keys_are_pinned_to_their_algorithm() -> None:
    for alg, kty in (("ES256", "EC"), ("RS256", "RSA")):
        stored = generate_key(alg, NOW)
        assert stored.alg == alg
        assert stored.private_jwk["kty"] == kty
        assert stored.private_jwk["alg"] == alg
        assert stored.private_jwk["kid"] == stored.kid
        assert "d" in stored.private_jwk


def test_unsupported_algorithm() -> None:
    with pytest.raises(ValueError):
        generate_key("HS256", NOW)


def test_repr_hides_private_key() -> None:
    stored = generate_key("ES256", NOW)
    assert str(stored.private_jwk["d"]) not in repr(stored)


def test_public_jwks_has_no_private_material() -> None:
    ring = KeyRing([generate_key("ES256", NOW), generate_key("RS256", NOW)], NOW)
    keys = ring.public_jwks()["keys"]
    assert {k["kty"] for k in keys} == {"EC", "RSA"}
    for key in keys:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
        assert key["alg"] in ("ES256", "RS256")
    assert "\"d\"" not in ring.to_json()


def test_sign_sets_kid_typ_and_alg() -> None:
    ring = KeyRing([generate_key("ES256", NOW)], NOW)
    header, claims = peek_claims(ring.sign({"sub": "x", "exp": NOW + 10}, typ="at+jwt"))
    assert header == {"alg": "ES256", "typ": "at+jwt", "kid": ring.active_kid("ES256")}
    assert claims["sub"] == "x"


def test_sign_without_a_key_for_the_algorithm() -> None:
    ring = KeyRing([generate_key("ES256", NOW)], NOW)
    with pytest.raises(LookupError):
        ring.sign({"sub": "x"}, typ="at+jwt", alg="RS256")


def test_newest_active_key_signs_and_retiring_key_still_verifies() -> None:
    old = generate_key("ES256", NOW - 100)
    new = generate_key("ES256", NOW)
    before = KeyRing([old], NOW - 50)
    token = before.sign({"sub": "x", "exp": NOW + 300}, typ="at+jwt")
    ring = KeyRing([replace(old, retire_at=NOW + 60), new], NOW)
    assert ring.active_kid("ES256") == new.kid
    assert {k["kid"] for k in ring.public_jwks()["keys"]} == {old.kid, new.kid}
    assert verify_jwt(token, ring.verification_keys, algorithms=["ES256"], now=NOW, typ="at+jwt").claims["sub"] == "x"


def test_retired_key_is_dropped_after_the_overlap() -> None:
    old = generate_key("ES256", NOW - 100)
    new = generate_key("ES256", NOW)
    token = KeyRing([old], NOW - 50).sign({"sub": "x", "exp": NOW + 300}, typ="at+jwt")
    ring = KeyRing([replace(old, retire_at=NOW), new], NOW)
    assert {k["kid"] for k in ring.public_jwks()["keys"]} == {new.kid}
    from deputy.jose import JWTInvalid

    with pytest.raises(JWTInvalid):
        verify_jwt(token, ring.verification_keys, algorithms=["ES256"], now=NOW, typ="at+jwt")


def test_thumbprint_is_stable_and_public() -> None:
    stored = generate_key("ES256", NOW)
    ring = KeyRing([stored], NOW)
    public = ring.public_jwks()["keys"][0]
    assert thumbprint(public) == thumbprint(stored.private_jwk)
    assert thumbprint(public) != thumbprint(KeyRing([generate_key("ES256", NOW)], NOW).public_jwks()["keys"][0])
