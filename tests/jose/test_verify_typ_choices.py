"""verify_jwt with a set of accepted ``typ`` values (the tokens of trusted external issuers)."""

from __future__ import annotations

from typing import Any

import pytest

from deputy.jose import JWTInvalid, KeyRing, generate_key, verify_jwt

NOW = 1_800_000_000
ISS = "https://idp.example"


@pytest.fixture(scope="module")
def ring() -> KeyRing:
    return KeyRing([generate_key("ES256", NOW)], NOW)


def token(ring: KeyRing, typ: str | None) -> str:
    claims = {"iss": ISS, "sub": "jane", "exp": NOW + 300}
    if typ is None:
        # KeyRing.sign always sets typ; build one without by signing with the private key directly.
        from joserfc import jwt
        from joserfc.jwk import import_key

        stored = ring._keys[0]  # the private key, which KeyRing never hands out
        key = import_key(dict(stored.private_jwk))
        return jwt.encode({"alg": "ES256", "kid": stored.kid}, claims, key, algorithms=["ES256"], default_type=None)
    return ring.sign(claims, typ=typ)


def verify(ring: KeyRing, tok: str, typ: Any) -> None:
    verify_jwt(tok, ring.verification_keys, algorithms=["ES256"], now=NOW, typ=typ, issuer=ISS)


@pytest.mark.parametrize(
    ("header_typ", "accepted"),
    [("at+jwt", ("at+jwt", "JWT")), ("JWT", ("at+jwt", "JWT")), ("jwt", ("JWT",)), ("application/at+jwt", ("at+jwt",)),
     ("at+jwt", ("application/at+jwt",)), (None, ("JWT", "")), ("", ("",))],
)
def test_one_of_the_accepted_types(ring: KeyRing, header_typ: str | None, accepted: tuple[str, ...]) -> None:
    verify(ring, token(ring, header_typ), accepted)


@pytest.mark.parametrize(
    ("header_typ", "accepted"),
    [(None, ("at+jwt", "JWT")), ("", ("JWT",)), ("dpop+jwt", ("at+jwt", "JWT", "")), ("JWT", ("at+jwt", "")),
     ("at+jwt+x", ("at+jwt",)), ("secevent+jwt", ("",))],
)
def test_anything_else_is_refused(ring: KeyRing, header_typ: str | None, accepted: tuple[str, ...]) -> None:
    with pytest.raises(JWTInvalid, match="typ"):
        verify(ring, token(ring, header_typ), accepted)


def test_an_empty_set_accepts_nothing(ring: KeyRing) -> None:
    with pytest.raises(JWTInvalid):
        verify(ring, token(ring, None), ())


def test_a_single_string_is_still_exact(ring: KeyRing) -> None:
    """Deputy's own tokens keep their strict check: a string is one required type, never a set
    of its characters, and a missing typ does not pass."""
    verify(ring, token(ring, "at+jwt"), "at+jwt")
    for tok in (token(ring, None), token(ring, "JWT")):
        with pytest.raises(JWTInvalid):
            verify(ring, tok, "at+jwt")
