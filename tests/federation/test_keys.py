"""The per-issuer key cache: discovery, caching, refresh on an unknown kid, the rate limit, failures."""

from __future__ import annotations

import pytest

from deputy.clock import FixedClock
from deputy.federation import IssuerKeyCache
from deputy.protocol.ports import KeysUnavailable
from deputy.realm import TrustedIssuer
from tests.fake_issuer import FakeIssuer

IDP = "https://idp.example"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(1_800_000_000)


@pytest.fixture
def idp(clock: FixedClock) -> FakeIssuer:
    return FakeIssuer(IDP, now=clock.now)


@pytest.fixture
def cache(clock: FixedClock, idp: FakeIssuer) -> IssuerKeyCache:
    return IssuerKeyCache(clock, refresh_interval=30, max_age=3600, transport=idp.transport())


def by_discovery(idp: FakeIssuer) -> TrustedIssuer:
    return TrustedIssuer(IDP, discovery_url=idp.discovery_url)


def kids(keys: object) -> set[str]:
    return {str(k.kid) for k in keys}  # type: ignore[attr-defined]


def test_discovery_then_jwks(cache: IssuerKeyCache, idp: FakeIssuer) -> None:
    keys = cache.keys_for(by_discovery(idp), str(idp.signing.kid))
    assert kids(keys) == {idp.signing.kid}
    assert (idp.discovery_fetches, idp.jwks_fetches) == (1, 1)


def test_jwks_uri_without_discovery(cache: IssuerKeyCache, idp: FakeIssuer) -> None:
    cache.keys_for(TrustedIssuer(IDP, jwks_uri=idp.jwks_uri), None)
    assert (idp.discovery_fetches, idp.jwks_fetches) == (0, 1)


def test_cached_while_the_kid_is_known(cache: IssuerKeyCache, idp: FakeIssuer, clock: FixedClock) -> None:
    issuer = by_discovery(idp)
    for _ in range(5):
        cache.keys_for(issuer, str(idp.signing.kid))
        cache.keys_for(issuer, None)
        clock.advance(60)
    assert idp.jwks_fetches == 1


def test_unknown_kid_refreshes_at_most_once_per_interval(cache: IssuerKeyCache, idp: FakeIssuer, clock: FixedClock) -> None:
    issuer = by_discovery(idp)
    cache.keys_for(issuer, str(idp.signing.kid))
    clock.advance(31)
    for i in range(10):  # made-up kids: one refresh, then the limit holds
        cache.keys_for(issuer, f"bogus-{i}")
        clock.advance(2)
    assert idp.jwks_fetches == 2
    clock.advance(30)
    cache.keys_for(issuer, "bogus-again")
    assert idp.jwks_fetches == 3


def test_rotation(cache: IssuerKeyCache, idp: FakeIssuer, clock: FixedClock) -> None:
    issuer = by_discovery(idp)
    old = str(idp.signing.kid)
    cache.keys_for(issuer, old)
    new = idp.rotate(keep_old=False)
    assert new not in kids(cache.keys_for(issuer, new))  # rate-limited: too soon after the first fetch
    clock.advance(30)
    assert kids(cache.keys_for(issuer, new)) == {new}
    assert idp.jwks_fetches == 2


def test_old_keys_are_dropped_after_max_age(cache: IssuerKeyCache, idp: FakeIssuer, clock: FixedClock) -> None:
    issuer = by_discovery(idp)
    old = str(idp.signing.kid)
    cache.keys_for(issuer, old)
    new = idp.rotate(keep_old=False)
    clock.advance(3600)
    assert kids(cache.keys_for(issuer, old)) == {new}  # a removed key stops verifying


def test_configuration_change_fetches_again(cache: IssuerKeyCache, idp: FakeIssuer) -> None:
    cache.keys_for(by_discovery(idp), None)
    cache.keys_for(TrustedIssuer(IDP, jwks_uri=idp.jwks_uri), None)  # no rate limit: a new source
    assert idp.jwks_fetches == 2


def test_discovery_must_name_the_configured_issuer(cache: IssuerKeyCache, idp: FakeIssuer) -> None:
    idp.discovery_issuer = IDP + "/"  # RFC 8414 §3.3: identical, not "equivalent"
    with pytest.raises(KeysUnavailable, match="RFC 8414"):
        cache.keys_for(by_discovery(idp), None)
    assert idp.jwks_fetches == 0


def test_discovered_jwks_uri_must_be_https(clock: FixedClock) -> None:
    import httpx

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"issuer": IDP, "jwks_uri": "http://idp.example/jwks"})

    cache = IssuerKeyCache(clock, transport=httpx.MockTransport(handle))
    with pytest.raises(KeysUnavailable, match="https"):
        cache.keys_for(TrustedIssuer(IDP, discovery_url=IDP + "/.well-known/openid-configuration"), None)


def test_failure_without_keys(cache: IssuerKeyCache, idp: FakeIssuer, clock: FixedClock) -> None:
    idp.down = True
    issuer = by_discovery(idp)
    with pytest.raises(KeysUnavailable, match="HTTP 503"):
        cache.keys_for(issuer, None)
    with pytest.raises(KeysUnavailable, match="next attempt"):
        cache.keys_for(issuer, None)  # not retried at once
    assert idp.discovery_fetches == 0  # a 503 is not counted as served
    idp.down = False
    clock.advance(30)
    assert kids(cache.keys_for(issuer, None)) == {idp.signing.kid}


def test_failure_keeps_the_keys_it_has(cache: IssuerKeyCache, idp: FakeIssuer, clock: FixedClock) -> None:
    issuer = by_discovery(idp)
    kid = str(idp.signing.kid)
    cache.keys_for(issuer, kid)
    idp.down = True
    clock.advance(4000)  # stale: a refresh is due, and fails
    assert kids(cache.keys_for(issuer, kid)) == {kid}
    clock.advance(31)
    with pytest.raises(KeysUnavailable):
        cache.keys_for(issuer, "a-new-kid")  # a kid it does not have cannot be vouched for


def test_a_jwks_without_usable_keys(clock: FixedClock) -> None:
    import httpx

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}]})

    cache = IssuerKeyCache(clock, transport=httpx.MockTransport(handle))
    with pytest.raises(KeysUnavailable, match="no usable"):
        cache.keys_for(TrustedIssuer(IDP, jwks_uri=IDP + "/jwks"), "hmac")


def test_issuers_are_cached_separately(clock: FixedClock) -> None:
    a, b = FakeIssuer("https://a.example", now=clock.now), FakeIssuer("https://b.example", now=clock.now)
    cache_a = IssuerKeyCache(clock, transport=a.transport())
    keys_a = cache_a.keys_for(TrustedIssuer(a.issuer, jwks_uri=a.jwks_uri), None)
    assert kids(keys_a) == {a.signing.kid}
    assert b.signing.kid not in kids(keys_a)
