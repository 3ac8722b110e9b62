"""Attacks on a resource server (SPECS.md pitfalls 5 and 7), each refused with invalid_token."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from deputy.clock import FixedClock
from deputy.resource import InvalidToken, TokenVerifier
from tests.resource.support import START, FakeAS, b64url, new_key, raw_jwt


@pytest.fixture
def fake() -> FakeAS:
    return FakeAS(FixedClock(START))


@pytest.fixture
def verifier(fake: FakeAS) -> TokenVerifier:
    verifier = fake.verifier()
    verifier.verify(fake.token())  # keys fetched
    return verifier


def refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as info:
        verifier.verify(token)
    return info.value.detail


def test_alg_none(fake: FakeAS, verifier: TokenVerifier) -> None:
    for alg in ("none", "None", "NONE"):
        token = raw_jwt({"alg": alg, "typ": "at+jwt", "kid": "es-1"}, fake.claims())
        assert "not allowed" in refused(verifier, token)
    assert "not allowed" in refused(verifier, raw_jwt({"alg": "none", "typ": "at+jwt"}, fake.claims()))


def test_hs256_signed_with_the_rsa_public_key(fake: FakeAS, verifier: TokenVerifier) -> None:
    """The classic RS256 -> HS256 confusion: the published key used as an HMAC secret."""
    public_pem = fake.rs.as_pem(private=False)
    for kid in ("rs-1", None):
        header = {"alg": "HS256", "typ": "at+jwt"} | ({"kid": kid} if kid else {})
        signing_input = raw_jwt(header, fake.claims()).rsplit(".", 1)[0]
        mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
        assert "not allowed" in refused(verifier, f"{signing_input}.{b64url(mac)}")


def test_hs256_is_refused_even_when_configured_nowhere_else(fake: FakeAS) -> None:
    with pytest.raises(ValueError):
        fake.verifier(algorithms=["HS256"])


def test_algorithm_pinned_per_key(fake: FakeAS, verifier: TokenVerifier) -> None:
    """An RS256 signature under the kid of the ES256 key is refused before any signature check."""
    token = fake.token(key=fake.rs, header={"kid": "es-1"})
    assert "pinned" in refused(verifier, token)


def test_an_id_token_is_not_an_access_token(fake: FakeAS, verifier: TokenVerifier) -> None:
    id_token = fake.token(typ="JWT", aud=fake.claims()["aud"], nonce="n-0S6_WzA2Mj")
    assert "typ" in refused(verifier, id_token)


@pytest.mark.parametrize("typ", [None, "", "jwt", "dpop+jwt", "oauth-id-jag+jwt", "at+jwt+x", "application/jwt"])
def test_other_token_types(fake: FakeAS, verifier: TokenVerifier, typ: str | None) -> None:
    assert "typ" in refused(verifier, fake.token(typ=typ))


def test_token_for_another_audience(fake: FakeAS, verifier: TokenVerifier) -> None:
    """Pitfall 5, token passthrough: a token for another API (or for the agent itself) is refused."""
    for aud in ("https://other.example", ["https://other.example"], "incident-agent", "https://api.example/", []):
        assert "audience" in refused(verifier, fake.token(aud=aud))


def test_wrong_issuer(fake: FakeAS, verifier: TokenVerifier) -> None:
    for iss in ("https://evil.example", "https://as.example/", "HTTPS://AS.EXAMPLE"):
        assert "issuer" in refused(verifier, fake.token(iss=iss))


def test_expired(fake: FakeAS, verifier: TokenVerifier) -> None:
    now = fake.clock.now()
    assert "expired" in refused(verifier, fake.token(iat=now - 600, nbf=now - 600, exp=now - 60))


def test_a_key_named_in_the_token_header_is_never_trusted(fake: FakeAS, verifier: TokenVerifier) -> None:
    attacker = new_key("ES256", "es-1")  # claims a published kid, embeds its own key
    token = fake.token(key=attacker, header={"jwk": attacker.as_dict(private=False)})
    assert "signature" in refused(verifier, token)
    token = fake.token(key=new_key("ES256", "es-1"), header={"jku": "https://evil.example/jwks"})
    assert "signature" in refused(verifier, token)


def test_tampered_claims(fake: FakeAS, verifier: TokenVerifier) -> None:
    header, _, signature = fake.token().split(".")
    other = fake.token(sub="admin").split(".")[1]
    assert "signature" in refused(verifier, f"{header}.{other}.{signature}")


def test_oversized_token(fake: FakeAS, verifier: TokenVerifier) -> None:
    assert "too large" in refused(verifier, fake.token(padding="x" * 20_000))


@pytest.mark.parametrize(
    "header",
    [{"crit": 1}, {"crit": True}, {"crit": ["exp"]}, {"jwk": 5}, {"typ": 5}, {"alg": ["ES256"]}, {"kid": None}],
)
def test_malformed_headers_are_invalid_tokens_not_crashes(fake: FakeAS, verifier: TokenVerifier,
                                                          header: dict[str, object]) -> None:
    token = raw_jwt({"alg": "ES256", "typ": "at+jwt", "kid": "es-1", **header}, fake.claims(), b"s" * 64)
    refused(verifier, token)
