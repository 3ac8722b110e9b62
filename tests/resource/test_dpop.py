"""DPoP-bound tokens at the resource (RFC 9449 §4.3, §7): every check of the proof, and the
binding between the scheme and the token."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from joserfc.jwk import ECKey, RSAKey

from deputy.clock import FixedClock
from deputy.resource import (
    AuthenticationRequired,
    Credentials,
    DPoPSettings,
    InvalidDPoPProof,
    InvalidToken,
    MemoryReplayCache,
    TokenVerifier,
    read_credentials,
)
from deputy.resource.dpop import same_htu
from tests.resource.support import API_URL, START, FakeAS, b64url, dpop_key, jkt, proof, raw_jwt


@pytest.fixture
def fake() -> FakeAS:
    return FakeAS(FixedClock(START))


@pytest.fixture
def verifier(fake: FakeAS) -> TokenVerifier:
    return fake.verifier()


@pytest.fixture
def key() -> ECKey:
    return dpop_key()


def bound(fake: FakeAS, key: ECKey, **claims: Any) -> str:
    return fake.token(cnf={"jkt": jkt(key)}, **claims)


def dpop(token: str, proof_: str | None, *, method: str = "GET", url: str = API_URL) -> Credentials:
    return Credentials(token=token, scheme="DPoP", proof=proof_, method=method, url=url)


def refused_proof(verifier: TokenVerifier, creds: Credentials) -> str:
    with pytest.raises(InvalidDPoPProof) as info:
        verifier.verify(creds)
    assert info.value.scheme == "DPoP"
    return info.value.detail


def test_a_bound_token_with_its_proof(fake: FakeAS, verifier: TokenVerifier, key: ECKey) -> None:
    token = bound(fake, key)
    creds = read_credentials([f"DPoP {token}"], [proof(key, token, now=fake.clock.now())], method="GET", url=API_URL)
    principal = verifier.verify(creds, scopes=["incidents:read"])
    assert principal.user == "jane" and principal.dpop_jkt == jkt(key)


def test_the_same_through_averify(fake: FakeAS, verifier: TokenVerifier, key: ECKey) -> None:
    token = bound(fake, key)
    creds = dpop(token, proof(key, token, now=fake.clock.now()))
    assert asyncio.run(verifier.averify(creds)).dpop_jkt == jkt(key)


def test_missing_proof(fake: FakeAS, verifier: TokenVerifier, key: ECKey) -> None:
    token = bound(fake, key)
    assert "no DPoP proof" in refused_proof(verifier, dpop(token, None))
    with pytest.raises(InvalidDPoPProof):
        read_credentials([f"DPoP {token}"], [], method="GET", url=API_URL)


def test_no_request_context(fake: FakeAS, verifier: TokenVerifier, key: ECKey) -> None:
    token = bound(fake, key)
    creds = Credentials(token=token, scheme="DPoP", proof=proof(key, token, now=fake.clock.now()))
    assert "method and URL" in refused_proof(verifier, creds)


def test_wrong_htm(fake: FakeAS, verifier: TokenVerifier, key: ECKey) -> None:
    token = bound(fake, key)
    assert "htm" in refused_proof(verifier, dpop(token, proof(key, token, now=fake.clock.now(), method="POST")))
    assert "htm" in refused_proof(verifier, dpop(token, proof(key, token, now=fake.clock.now(), method="get")))


@pytest.mark.parametrize(
    "htu",
    ["https://api.example/other", "http://api.example/incidents", "https://evil.example/incidents",
     "https://api.example:8443/incidents", "https://api.example/incidents/", "/incidents"],
)
def test_wrong_htu(fake: FakeAS, verifier: TokenVerifier, key: ECKey, htu: str) -> None:
    token = bound(fake, key)
    assert "htu" in refused_proof(verifier, dpop(token, proof(key, token, now=fake.clock.now(), url=htu)))


def test_htu_ignores_query_and_fragment(fake: FakeAS, verifier: TokenVerifier, key: ECKey) -> None:
    token = bound(fake, key)
    creds = dpop(token, proof(key, token, now=fake.clock.now()), url=API_URL + "?sysparm_limit=5")
    assert verifier.verify(creds).user == "jane"


def test_replayed_proof(fake: FakeAS, verifier: TokenVerifier, key: ECKey) -> None:
    token = bound(fake, key)
    once = proof(key, token, now=fake.clock.now())
    verifier.verify(dpop(token, once))
    assert "replay" in refused_proof(verifier, dpop(token, once))
    # The jti is what counts: a fresh proof with the same jti is a replay too.
    again = proof(key, token, now=fake.clock.now(), jti=_claims(once)["jti"])
    assert "replay" in refused_proof(verifier, dpop(token, again))


def test_wrong_ath(fake: FakeAS, verifier: TokenVerifier, key: ECKey) -> None:
    token = bound(fake, key)
    other = bound(fake, key)
    assert "ath" in refused_proof(verifier, dpop(token, proof(key, other, now=fake.clock.now())))
    assert "ath" in refused_proof(verifier, dpop(token, proof(key, token, now=fake.clock.now(), ath=None)))
    assert "ath" in refused_proof(verifier, dpop(token, proof(key, token, now=fake.clock.now(), ath="\u00e9")))
    assert "jti" in refused_proof(verifier, dpop(token, proof(key, token, now=fake.clock.now(), jti=7)))


def test_wrong_key_thumbprint(fake: FakeAS, verifier: TokenVerifier, key: ECKey) -> None:
    token = bound(fake, key)
    thief = dpop_key()
    assert "cnf.jkt" in refused_proof(verifier, dpop(token, proof(thief, token, now=fake.clock.now())))


def test_proof_signed_by_another_key_than_its_jwk(fake: FakeAS, verifier: TokenVerifier, key: ECKey) -> None:
    token = bound(fake, key)
    forged = proof(dpop_key(), token, now=fake.clock.now(), header={"jwk": key.as_dict(private=False)})
    assert "signature" in refused_proof(verifier, dpop(token, forged))


def test_proof_freshness(fake: FakeAS, verifier: TokenVerifier, key: ECKey) -> None:
    token = bound(fake, key)
    now = fake.clock.now()
    assert verifier.verify(dpop(token, proof(key, token, now=now - 60))).user == "jane"
    assert "ago" in refused_proof(verifier, dpop(token, proof(key, token, now=now - 61)))
    assert "future" in refused_proof(verifier, dpop(token, proof(key, token, now=now + 31)))


@pytest.mark.parametrize("missing", ["jti", "htm", "htu", "iat"])
def test_proof_required_claims(fake: FakeAS, verifier: TokenVerifier, key: ECKey, missing: str) -> None:
    token = bound(fake, key)
    claims: dict[str, Any] = {missing: None}
    refused_proof(verifier, dpop(token, proof(key, token, now=fake.clock.now(), **claims)))


def test_proof_header(fake: FakeAS, verifier: TokenVerifier, key: ECKey) -> None:
    token = bound(fake, key)
    now = fake.clock.now()
    assert "typ" in refused_proof(verifier, dpop(token, proof(key, token, now=now, typ="JWT")))
    assert "typ" in refused_proof(verifier, dpop(token, proof(key, token, now=now, typ="at+jwt")))
    private = proof(key, token, now=now, header={"jwk": key.as_dict(private=True)})
    assert "private" in refused_proof(verifier, dpop(token, private))
    assert "jwk" in refused_proof(verifier, dpop(token, proof(key, token, now=now, header={"jwk": None})))
    symmetric = {"kty": "oct", "k": b64url(b"s" * 32)}
    hs = raw_jwt({"typ": "dpop+jwt", "alg": "HS256", "jwk": symmetric}, {"jti": "j" * 10}, b"x" * 32)
    assert "algorithm" in refused_proof(verifier, dpop(token, hs))
    none = raw_jwt({"typ": "dpop+jwt", "alg": "none", "jwk": key.as_dict(private=False)}, {"jti": "j" * 10})
    assert "algorithm" in refused_proof(verifier, dpop(token, none))
    assert "proof" in refused_proof(verifier, dpop(token, "not-a-jwt"))


def test_bearer_scheme_with_a_bound_token(fake: FakeAS, verifier: TokenVerifier, key: ECKey) -> None:
    token = bound(fake, key)
    creds = read_credentials([f"Bearer {token}"], [proof(key, token, now=fake.clock.now())], method="GET", url=API_URL)
    with pytest.raises(InvalidToken, match="Bearer") as info:
        verifier.verify(creds)
    assert info.value.scheme == "DPoP"  # the challenge tells the client to use DPoP
    with pytest.raises(InvalidToken):
        verifier.verify(token)


def test_dpop_scheme_with_a_bearer_token(fake: FakeAS, verifier: TokenVerifier, key: ECKey) -> None:
    token = fake.token()
    with pytest.raises(InvalidToken, match="not DPoP-bound") as info:
        verifier.verify(dpop(token, proof(key, token, now=fake.clock.now())))
    assert info.value.scheme == "DPoP"


def test_unsupported_confirmation_method(fake: FakeAS, verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match="confirmation"):
        verifier.verify(fake.token(cnf={"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}))


def test_dpop_required(fake: FakeAS, key: ECKey) -> None:
    verifier = fake.verifier(dpop=DPoPSettings(required=True))
    with pytest.raises(InvalidToken, match="required") as info:
        verifier.verify(fake.token())
    assert info.value.scheme == "DPoP"
    token = bound(fake, key)
    assert verifier.verify(dpop(token, proof(key, token, now=fake.clock.now()))).user == "jane"


def test_dpop_disabled(fake: FakeAS, key: ECKey) -> None:
    verifier = fake.verifier(dpop=DPoPSettings(enabled=False))
    token = bound(fake, key)
    with pytest.raises(AuthenticationRequired):
        verifier.verify(dpop(token, proof(key, token, now=fake.clock.now())))
    with pytest.raises(InvalidToken, match="not accepted"):
        verifier.verify(token)


def test_allowed_proof_algorithms(fake: FakeAS, key: ECKey) -> None:
    verifier = fake.verifier(dpop=DPoPSettings(algorithms=("PS256",)))
    token = bound(fake, key)
    assert "algorithm" in refused_proof(verifier, dpop(token, proof(key, token, now=fake.clock.now())))
    rsa = RSAKey.generate_key(2048, private=True)
    token = fake.token(cnf={"jkt": jkt(rsa)})
    good = proof(rsa, token, now=fake.clock.now(), alg="PS256")
    assert verifier.verify(dpop(token, good)).user == "jane"


@pytest.mark.parametrize("kwargs", [{"algorithms": ("HS256",)}, {"algorithms": ()}, {"max_age": 0},
                                    {"required": True, "enabled": False}])
def test_bad_dpop_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        DPoPSettings(**kwargs)


def test_replay_cache_is_bounded_and_forgets_expired_entries() -> None:
    cache = MemoryReplayCache(capacity=2)
    assert cache.mark_used("a", 110, now=100)
    assert not cache.mark_used("a", 110, now=105)
    assert cache.mark_used("b", 120, now=105)
    assert not cache.mark_used("c", 120, now=105)  # full of live entries: refuse, never forget
    assert cache.mark_used("c", 130, now=111)  # "a" expired and made room
    assert len(cache) == 2
    assert cache.mark_used("a", 140, now=121)  # expired entries may be used again


def test_same_htu() -> None:
    assert same_htu("https://API.example/x", "https://api.example/x?q=1#f")
    assert same_htu("https://api.example:443/x", "https://api.example/x")
    assert same_htu("http://127.0.0.1:80/", "http://127.0.0.1")
    assert not same_htu("https://api.example/x", "https://api.example/X")
    assert not same_htu("https://api.example:99999/x", "https://api.example/x")
    assert not same_htu("x", "https://api.example/x")


def _claims(token: str) -> dict[str, Any]:
    from deputy.jose import peek_claims

    return peek_claims(token)[1]
