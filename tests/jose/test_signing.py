"""Tokens signed by ``deputy.jose.signing`` are what joserfc would have produced, and verify
with joserfc as well as with Deputy's own parser."""

from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from deputy.jose.compact import parse_jws, signature_valid
from deputy.jose.signing import sign_compact

CLAIMS = {"iss": "https://deputy.example", "sub": "jäne", "aud": "https://incidents.example", "exp": 2_000_000_000,
          "act": {"sub": "incident-agent", "act": {"sub": "triage-agent"}}, "scope": "incidents:read"}


@pytest.fixture(scope="module")
def ec_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "ec-1"}, private=True)


@pytest.fixture(scope="module")
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}, private=True)


def _header(alg: str, kid: str) -> dict[str, str]:
    return {"typ": "at+jwt", "alg": alg, "kid": kid}


def test_rs256_is_byte_for_byte_what_joserfc_signs(rsa_key: RSAKey) -> None:
    ours = sign_compact(_header("RS256", "rsa-1"), CLAIMS, rsa_key)
    theirs = jwt.encode(_header("RS256", "rsa-1"), dict(CLAIMS), rsa_key, algorithms=["RS256"])
    assert ours == theirs  # PKCS#1 v1.5 is deterministic: the whole token must match


def test_es256_signs_the_same_input_as_joserfc_and_verifies_there(ec_key: ECKey) -> None:
    ours = sign_compact(_header("ES256", "ec-1"), CLAIMS, ec_key)
    theirs = jwt.encode(_header("ES256", "ec-1"), dict(CLAIMS), ec_key, algorithms=["ES256"])
    assert ours.rsplit(".", 1)[0] == theirs.rsplit(".", 1)[0]
    assert len(parse_jws(ours).signature) == 64  # JOSE r || s, not DER
    decoded = jwt.decode(ours, ec_key, algorithms=["ES256"])
    assert decoded.claims == CLAIMS and decoded.header["kid"] == "ec-1"


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_verifies_with_deputys_parser_and_not_after_a_change(alg: str, ec_key: ECKey, rsa_key: RSAKey) -> None:
    key = ec_key if alg == "ES256" else rsa_key
    token = sign_compact(_header(alg, "k"), CLAIMS, key)
    assert signature_valid(parse_jws(token), alg, key)
    other = sign_compact(_header(alg, "k"), {**CLAIMS, "scope": "incidents:write"}, key)
    spliced = parse_jws(other.rsplit(".", 1)[0] + "." + token.rsplit(".", 1)[1])
    assert not signature_valid(spliced, alg, key)


@pytest.mark.parametrize(("alg", "which"), [("ES256", "rsa"), ("RS256", "ec"), ("ES384", "ec"), ("none", "ec"),
                                            ("HS256", "rsa"), (None, "ec")])
def test_refuses_an_algorithm_the_key_cannot_sign(alg: str | None, which: str, ec_key: ECKey, rsa_key: RSAKey) -> None:
    key = ec_key if which == "ec" else rsa_key
    with pytest.raises(ValueError):
        sign_compact({"alg": alg, "typ": "JWT"}, CLAIMS, key)


def test_es256_refuses_a_key_on_another_curve() -> None:
    p384 = ECKey.generate_key("P-384", private=True)
    with pytest.raises(ValueError):
        sign_compact({"alg": "ES256"}, CLAIMS, p384)


def test_a_public_key_cannot_sign(ec_key: ECKey) -> None:
    public = ECKey.import_key(ec_key.as_dict(private=False))
    with pytest.raises((ValueError, AttributeError)):
        sign_compact({"alg": "ES256"}, CLAIMS, public)
