"""verify_jwt: signature, algorithm pinning, typ and claims, always together (pitfall 7)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey, import_key

from deputy.jose import JWTInvalid, KeyRing, generate_key, peek_claims, verify_jwt
from deputy.jose.verify import MAX_JWT_BYTES
from tests.protocol.support import b64url, hs256_jwt, unsigned_jwt

NOW = 1_800_000_000
ISS = "https://deputy.example"


@pytest.fixture(scope="module")
def ring() -> KeyRing:
    return KeyRing([generate_key("ES256", NOW), generate_key("RS256", NOW)], NOW)


def claims(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"iss": ISS, "sub": "jane", "aud": "https://rs.example", "iat": NOW, "nbf": NOW,
                              "exp": NOW + 300, "jti": "j1", "client_id": "agent"}
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def verify(token: str, ring: KeyRing, **kwargs: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"algorithms": ["ES256", "RS256"], "now": NOW, "typ": "at+jwt", "issuer": ISS}
    options.update(kwargs)
    return dict(verify_jwt(token, ring.verification_keys, **options).claims)


def public_rsa_key(ring: KeyRing) -> dict[str, Any]:
    return next(k for k in ring.public_jwks()["keys"] if k["kty"] == "RSA")


# -- the good path ----------------------------------------------------------------------------------

@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_valid_token(ring: KeyRing, alg: str) -> None:
    token = ring.sign(claims(), typ="at+jwt", alg=alg)
    verified = verify_jwt(token, ring.verification_keys, algorithms=["ES256", "RS256"], now=NOW, typ="at+jwt",
                          issuer=ISS, audience=["https://rs.example"])
    assert verified.claims["sub"] == "jane"
    assert verified.header["alg"] == alg
    assert verified.header["kid"] == ring.active_kid(alg)


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"])
def test_typ_is_compared_case_insensitively_with_optional_prefix(ring: KeyRing, typ: str) -> None:
    assert verify(ring.sign(claims(), typ=typ), ring)["sub"] == "jane"


# -- algorithm confusion ----------------------------------------------------------------------------

def test_alg_none_is_refused(ring: KeyRing) -> None:
    token = unsigned_jwt({"alg": "none", "typ": "at+jwt"}, claims())
    with pytest.raises(JWTInvalid, match="not allowed"):
        verify(token, ring)


def test_alg_none_refused_even_if_the_caller_allows_it(ring: KeyRing) -> None:
    token = unsigned_jwt({"alg": "none", "typ": "at+jwt", "kid": ring.active_kid("ES256")}, claims())
    with pytest.raises(JWTInvalid):
        verify(token, ring, algorithms=["none", "ES256"])


@pytest.mark.parametrize("secret_form", ["pem", "jwk-json", "n-bytes"])
def test_hs256_with_the_public_key_as_secret(ring: KeyRing, secret_form: str) -> None:
    """RS256 → HS256 confusion: the attacker HMACs with the server's published public key."""
    jwk = public_rsa_key(ring)
    if secret_form == "pem":
        secret = RSAKey.import_key(jwk).as_pem(private=False)
    elif secret_form == "jwk-json":
        secret = json.dumps(jwk).encode()
    else:
        secret = jwk["n"].encode()
    for header in ({"alg": "HS256", "typ": "at+jwt", "kid": jwk["kid"]}, {"alg": "HS256", "typ": "at+jwt"}):
        token = hs256_jwt(header, claims(), secret)
        with pytest.raises(JWTInvalid):
            verify(token, ring)
        with pytest.raises(JWTInvalid, match="not allowed"):  # HMAC is forbidden whatever the caller passes
            verify(token, ring, algorithms=["HS256", "RS256"])


def test_rs256_header_on_an_es256_key_is_refused(ring: KeyRing) -> None:
    """The key is pinned to its algorithm: a token cannot pick another one for a known kid."""
    attacker = RSAKey.generate_key(2048)
    token = jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": ring.active_kid("ES256")}, claims(), attacker,
                       algorithms=["RS256"])
    with pytest.raises(JWTInvalid, match="pinned"):
        verify(token, ring)


def test_ps256_header_on_the_rs256_key_is_refused(ring: KeyRing) -> None:
    attacker = RSAKey.generate_key(2048)
    token = jwt.encode({"alg": "PS256", "typ": "at+jwt", "kid": ring.active_kid("RS256")}, claims(), attacker,
                       algorithms=["PS256"])
    with pytest.raises(JWTInvalid):
        verify(token, ring, algorithms=["ES256", "RS256", "PS256"])


def test_algorithm_outside_the_allowed_list(ring: KeyRing) -> None:
    token = ring.sign(claims(), typ="at+jwt", alg="RS256")
    with pytest.raises(JWTInvalid, match="not allowed"):
        verify(token, ring, algorithms=["ES256"])


def test_unknown_kid(ring: KeyRing) -> None:
    stranger = ECKey.generate_key("P-256", parameters={"kid": "stranger", "alg": "ES256"}, private=True)
    token = jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": "stranger"}, claims(), stranger, algorithms=["ES256"])
    with pytest.raises(JWTInvalid, match="kid"):
        verify(token, ring)


def test_known_kid_but_foreign_signature(ring: KeyRing) -> None:
    stranger = ECKey.generate_key("P-256", private=True)
    kid = ring.active_kid("ES256")
    token = jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": kid}, claims(), stranger, algorithms=["ES256"])
    with pytest.raises(JWTInvalid, match="signature"):
        verify(token, ring)


def test_tampered_claims(ring: KeyRing) -> None:
    header, _, signature = ring.sign(claims(), typ="at+jwt").split(".")
    forged_body = b64url(json.dumps(claims(sub="admin")).encode())
    with pytest.raises(JWTInvalid, match="signature"):
        verify(f"{header}.{forged_body}.{signature}", ring)


def test_tampered_header(ring: KeyRing) -> None:
    """Changing the typ in the header of a JWT typed otherwise breaks the signature."""
    _, body, signature = ring.sign(claims(), typ="JWT").split(".")
    new_header = b64url(json.dumps({"alg": "ES256", "typ": "at+jwt", "kid": ring.active_kid("ES256")}).encode())
    with pytest.raises(JWTInvalid, match="signature"):
        verify(f"{new_header}.{body}.{signature}", ring)


# -- type confusion ---------------------------------------------------------------------------------

@pytest.mark.parametrize("typ", ["JWT", "jwt", "id_token+jwt", "oauth-id-jag+jwt", "dpop+jwt", "at+jwt+x"])
def test_wrong_typ(ring: KeyRing, typ: str) -> None:
    with pytest.raises(JWTInvalid, match="typ"):
        verify(ring.sign(claims(), typ=typ), ring)


def test_missing_typ(ring: KeyRing) -> None:
    key = import_key(dict(ring._keys[0].private_jwk))
    token = jwt.encode({"alg": "ES256", "kid": ring.active_kid("ES256")}, claims(), key, algorithms=["ES256"])
    with pytest.raises(JWTInvalid, match="typ"):
        verify(token, ring)


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/dpop+jwt", "oauth-id-jag+jwt", "txntoken+jwt"])
def test_typ_none_refuses_other_token_types(ring: KeyRing, typ: str) -> None:
    with pytest.raises(JWTInvalid, match="typ"):
        verify(ring.sign(claims(), typ=typ), ring, typ=None)


@pytest.mark.parametrize("typ", ["JWT", "jwt", "client-authentication+jwt"])
def test_typ_none_accepts_plain_jwts(ring: KeyRing, typ: str) -> None:
    assert verify(ring.sign(claims(), typ=typ), ring, typ=None)["sub"] == "jane"


# -- claims -----------------------------------------------------------------------------------------

def test_expired(ring: KeyRing) -> None:
    token = ring.sign(claims(exp=NOW - 31), typ="at+jwt")
    with pytest.raises(JWTInvalid, match="expired"):
        verify(token, ring)


def test_expiry_boundary_with_leeway(ring: KeyRing) -> None:
    token = ring.sign(claims(exp=NOW - 29), typ="at+jwt")
    assert verify(token, ring)  # within the default 30 s leeway
    with pytest.raises(JWTInvalid, match="expired"):
        verify(token, ring, leeway=29)
    with pytest.raises(JWTInvalid, match="expired"):
        verify(ring.sign(claims(exp=NOW), typ="at+jwt"), ring, leeway=0)


def test_not_yet_valid(ring: KeyRing) -> None:
    with pytest.raises(JWTInvalid, match="not yet valid"):
        verify(ring.sign(claims(nbf=NOW + 31), typ="at+jwt"), ring)
    assert verify(ring.sign(claims(nbf=NOW + 30), typ="at+jwt"), ring)


def test_issued_in_the_future(ring: KeyRing) -> None:
    with pytest.raises(JWTInvalid, match="future"):
        verify(ring.sign(claims(iat=NOW + 120, nbf=None), typ="at+jwt"), ring)


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", ["1900000000", 1900000000.5, True, None, [1]])
def test_time_claims_must_be_integers(ring: KeyRing, name: str, value: object) -> None:
    token = ring.sign({**claims(), name: value}, typ="at+jwt")
    with pytest.raises(JWTInvalid):
        verify(token, ring)


@pytest.mark.parametrize("name", ["exp", "jti", "sub", "client_id"])
def test_required_claims(ring: KeyRing, name: str) -> None:
    token = ring.sign(claims(**{name: None}), typ="at+jwt")
    with pytest.raises(JWTInvalid, match=f"missing claim '{name}'"):
        verify(token, ring, required=("exp", "jti", "sub", "client_id"))


def test_issuer(ring: KeyRing) -> None:
    token = ring.sign(claims(iss="https://evil.example"), typ="at+jwt")
    with pytest.raises(JWTInvalid, match="issuer"):
        verify(token, ring)
    assert verify(token, ring, issuer=["https://evil.example", ISS])
    with pytest.raises(JWTInvalid, match="issuer"):
        verify(ring.sign(claims(iss=None), typ="at+jwt"), ring)
    with pytest.raises(JWTInvalid, match="issuer"):
        verify(ring.sign(claims(iss=ISS + "/"), typ="at+jwt"), ring)


@pytest.mark.parametrize(
    ("aud", "ok"),
    [
        ("https://rs.example", True),
        (["https://other.example", "https://rs.example"], True),
        ("https://rs.example/", False),
        (["https://other.example"], False),
        ([], False),
        (None, False),
        ({"https://rs.example": True}, False),
        ([["https://rs.example"]], False),
    ],
)
def test_audience(ring: KeyRing, aud: object, ok: bool) -> None:
    token = ring.sign(claims(aud=aud), typ="at+jwt")
    if ok:
        assert verify(token, ring, audience={"https://rs.example"})
    else:
        with pytest.raises(JWTInvalid, match="audience"):
            verify(token, ring, audience={"https://rs.example"})


def test_audience_not_checked_when_not_asked(ring: KeyRing) -> None:
    assert verify(ring.sign(claims(aud="anything"), typ="at+jwt"), ring)


def test_max_lifetime(ring: KeyRing) -> None:
    token = ring.sign(claims(exp=NOW + 601), typ="at+jwt")
    with pytest.raises(JWTInvalid, match="far in the future"):
        verify(token, ring, max_lifetime=600)
    assert verify(ring.sign(claims(exp=NOW + 600), typ="at+jwt"), ring, max_lifetime=600)


# -- shape ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c.d", "!!.!!.!!", "e30.W10.x", "W10.e30.x", "bnVsbA.e30.x"])
def test_malformed(ring: KeyRing, token: str) -> None:
    with pytest.raises(JWTInvalid):
        verify(token, ring)


def test_too_large(ring: KeyRing) -> None:
    token = ring.sign(claims(padding="x" * MAX_JWT_BYTES), typ="at+jwt")
    with pytest.raises(JWTInvalid, match="too large"):
        verify(token, ring)
    with pytest.raises(JWTInvalid, match="too large"):
        peek_claims(token)


def test_peek_claims_does_not_verify(ring: KeyRing) -> None:
    token = unsigned_jwt({"alg": "none"}, {"sub": "anyone"})
    assert peek_claims(token) == ({"alg": "none"}, {"sub": "anyone"})


def test_empty_keyset(ring: KeyRing) -> None:
    token = ring.sign(claims(), typ="at+jwt")
    with pytest.raises(JWTInvalid):
        verify_jwt(token, KeySet([]), algorithms=["ES256"], now=NOW, typ="at+jwt")


def test_a_malformed_crit_header_is_refused_not_a_crash() -> None:
    import base64
    import json

    from deputy.jose import JWTInvalid, KeyRing, generate_key

    ring = KeyRing([generate_key("ES256", 1000)], 1000)
    header = {"alg": "ES256", "typ": "at+jwt", "kid": ring.active_kid("ES256"), "crit": 1}
    encode = lambda value: base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()  # noqa: E731
    token = f"{encode(header)}.{encode({'exp': 2000})}.AAAA"
    with pytest.raises(JWTInvalid):
        verify_jwt(token, ring.verification_keys, algorithms=["ES256"], now=1000, typ="at+jwt")
