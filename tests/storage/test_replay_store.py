"""The assertion replay cache: first use wins, a replay loses, an expired key is free again."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from deputy.clock import FixedClock
from deputy.runtime import Deputy


def test_first_use_then_replay(any_deputy: Deputy, clock: FixedClock) -> None:
    replay = any_deputy.store.replay
    exp = clock.now() + 60
    assert replay.mark_used("client_assertion:a:jti-1", exp) is True
    assert replay.mark_used("client_assertion:a:jti-1", exp) is False
    assert replay.mark_used("client_assertion:a:jti-1", exp + 1000) is False
    assert replay.mark_used("client_assertion:b:jti-1", exp) is True  # another key is independent
    assert replay.mark_used("client_assertion:a:jti-2", exp) is True


def test_expired_key_is_freed(any_deputy: Deputy, clock: FixedClock) -> None:
    replay = any_deputy.store.replay
    assert replay.mark_used("k", clock.now() + 10) is True
    clock.advance(10)
    assert replay.mark_used("k", clock.now() + 10) is False  # still live at exactly its expiry
    clock.advance(1)
    assert replay.mark_used("k", clock.now() + 10) is True  # expired: usable again
    assert replay.mark_used("k", clock.now() + 10) is False  # and recorded again


def test_purge_removes_only_expired(any_deputy: Deputy, clock: FixedClock) -> None:
    replay = any_deputy.store.replay
    for i in range(5):
        assert replay.mark_used(f"short-{i}", clock.now() + 5)
    assert replay.mark_used("long", clock.now() + 500)
    clock.advance(6)
    assert replay.purge() == 5
    assert replay.purge() == 0
    assert replay.mark_used("long", clock.now() + 500) is False


def test_concurrent_use_of_one_key_has_exactly_one_winner(any_deputy: Deputy, clock: FixedClock) -> None:
    replay = any_deputy.store.replay
    exp = clock.now() + 60
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: replay.mark_used("contended", exp), range(64)))
    assert results.count(True) == 1
    assert results.count(False) == 63
