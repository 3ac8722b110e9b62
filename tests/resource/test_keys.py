"""The JWKS cache: discovery, caching, refresh on an unknown kid, the rate limit, failures,
single-flight fetching under concurrency."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from deputy.clock import FixedClock
from deputy.resource import InvalidToken, TemporarilyUnavailable
from deputy.resource.keys import discovery_url_for
from tests.resource.support import ISSUER, JWKS, START, FakeAS, new_key


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def fake(clock: FixedClock) -> FakeAS:
    return FakeAS(clock)


def test_unknown_kid_refetches_once_and_the_rate_limit_holds(fake: FakeAS, clock: FixedClock) -> None:
    verifier = fake.verifier(refresh_interval=30)
    verifier.verify(fake.token())
    assert fake.jwks_fetches == 1
    clock.advance(31)
    # A kid the issuer never published: exactly one refetch...
    with pytest.raises(InvalidToken, match="unknown kid"):
        verifier.verify(fake.token(key=new_key("ES256", "made-up-1")))
    assert fake.jwks_fetches == 2
    # ...and a second unknown kid inside the window does not fetch again.
    clock.advance(5)
    with pytest.raises(InvalidToken, match="unknown kid"):
        verifier.verify(fake.token(key=new_key("ES256", "made-up-2")))
    assert fake.jwks_fetches == 2
    # Known kids keep working meanwhile, from the cache.
    verifier.verify(fake.token())
    assert fake.jwks_fetches == 2


def test_rotation_is_picked_up_by_kid(fake: FakeAS, clock: FixedClock) -> None:
    verifier = fake.verifier()
    verifier.verify(fake.token())
    clock.advance(60)
    rotated = new_key("ES256", "es-2")
    fake.published.append(rotated)
    assert verifier.verify(fake.token(key=rotated)).user == "jane"
    assert fake.jwks_fetches == 2


def test_a_removed_key_stops_verifying_after_max_age(fake: FakeAS, clock: FixedClock) -> None:
    verifier = fake.verifier(max_keys_age=600)
    verifier.verify(fake.token())
    fake.published = [fake.rs]
    clock.advance(601)
    with pytest.raises(InvalidToken, match="unknown kid"):
        verifier.verify(fake.token())
    assert fake.jwks_fetches == 2


def test_failure_keeps_the_keys_held(fake: FakeAS, clock: FixedClock) -> None:
    verifier = fake.verifier(max_keys_age=600)
    verifier.verify(fake.token())
    fake.status = 503
    clock.advance(601)
    assert verifier.verify(fake.token()).user == "jane"  # stale but known: still usable
    with pytest.raises(InvalidToken, match="unknown kid"):  # rate-limited: not a second attempt
        verifier.verify(fake.token(key=new_key("ES256", "new")))


def test_cold_start_failure_is_rate_limited_too(fake: FakeAS, clock: FixedClock) -> None:
    verifier = fake.verifier()
    fake.status = 503
    with pytest.raises(TemporarilyUnavailable):
        verifier.verify(fake.token())
    fake.status = 200
    with pytest.raises(TemporarilyUnavailable, match="next attempt"):
        verifier.verify(fake.token())
    assert fake.discovery_fetches == 0
    clock.advance(30)
    assert verifier.verify(fake.token()).user == "jane"


def test_metadata_naming_another_issuer_is_refused(fake: FakeAS) -> None:
    fake.metadata_issuer = "https://evil.example"
    with pytest.raises(TemporarilyUnavailable) as info:
        fake.verifier().verify(fake.token())
    assert "RFC 8414" in info.value.detail
    assert fake.jwks_fetches == 0


def test_metadata_issuer_must_match_exactly(fake: FakeAS) -> None:
    fake.metadata_issuer = ISSUER + "/"
    with pytest.raises(TemporarilyUnavailable):
        fake.verifier().verify(fake.token())


def test_jwks_uri_without_discovery(fake: FakeAS) -> None:
    verifier = fake.verifier(jwks_uri=JWKS)
    assert verifier.verify(fake.token()).user == "jane"
    assert (fake.discovery_fetches, fake.jwks_fetches) == (0, 1)


def test_discovered_jwks_uri_must_be_https(fake: FakeAS) -> None:
    fake.metadata = lambda: {"issuer": ISSUER, "jwks_uri": "http://as.example/jwks"}  # type: ignore[method-assign]
    with pytest.raises(TemporarilyUnavailable, match="https"):
        fake.verifier().verify(fake.token())


def test_jwks_without_usable_keys(fake: FakeAS) -> None:
    fake.jwks = lambda: {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "es-1"}]}  # type: ignore[method-assign]
    with pytest.raises(TemporarilyUnavailable, match="no usable"):
        fake.verifier().verify(fake.token())


def test_documents_are_bounded_and_redirects_not_followed(fake: FakeAS) -> None:
    def huge(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"{" + b" " * (600 * 1024) + b"}")

    verifier = fake.verifier(http_client=httpx.Client(transport=httpx.MockTransport(huge)))
    with pytest.raises(TemporarilyUnavailable, match="larger than"):
        verifier.verify(fake.token())

    def redirect(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "https://evil.example/jwks"})

    verifier = fake.verifier(http_client=httpx.Client(transport=httpx.MockTransport(redirect)))
    with pytest.raises(TemporarilyUnavailable, match="HTTP 302"):
        verifier.verify(fake.token())


def _slow(fake: FakeAS) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        time.sleep(0.05)
        return fake.handle(request)

    return httpx.MockTransport(handle)


def test_concurrent_threads_fetch_once(fake: FakeAS) -> None:
    verifier = fake.verifier(http_client=httpx.Client(transport=_slow(fake)))
    token = fake.token()
    barrier = threading.Barrier(8)

    def call() -> str:
        barrier.wait()
        return verifier.verify(token).user

    with ThreadPoolExecutor(8) as pool:
        users = list(pool.map(lambda _: call(), range(8)))
    assert users == ["jane"] * 8
    assert (fake.discovery_fetches, fake.jwks_fetches) == (1, 1)


def test_concurrent_tasks_fetch_once(fake: FakeAS) -> None:
    async def handle(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)
        return fake.handle(request)

    verifier = fake.verifier(async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(handle)))
    token = fake.token()

    async def main() -> list[str]:
        principals = await asyncio.gather(*(verifier.averify(token) for _ in range(8)))
        return [p.user for p in principals]

    assert asyncio.run(main()) == ["jane"] * 8
    assert (fake.discovery_fetches, fake.jwks_fetches) == (1, 1)


def test_discovery_url_for() -> None:
    assert discovery_url_for("https://as.example") == "https://as.example/.well-known/oauth-authorization-server"
    assert discovery_url_for("https://as.example/") == "https://as.example/.well-known/oauth-authorization-server"
    assert discovery_url_for("https://as.example/t/1") == "https://as.example/.well-known/oauth-authorization-server/t/1"
