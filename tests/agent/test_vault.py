"""The vault: reuse until shortly before expiry (injected clock), LRU bound, single flight for
threads and asyncio tasks, errors shared with the waiters, invalidation by fingerprint."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from deputy.agent import Token, TokenVault, VaultKey
from deputy.clock import FixedClock


def key(user: str = "jane", scopes: frozenset[str] = frozenset({"incidents:read"})) -> VaultKey:
    return VaultKey(("https://idp.example", user), "incident-desk", None, "https://incidents.example", scopes)


def token(value: str, expires_at: int) -> Token:
    return Token(value=value, token_type="Bearer", expires_at=expires_at)


def test_reused_until_the_refresh_margin_then_fetched_again() -> None:
    clock = FixedClock(1_000)
    vault = TokenVault(refresh_margin=30, clock=clock.now)
    fetched: list[int] = []

    def fetch() -> Token:
        fetched.append(clock.now())
        return token(f"t{len(fetched)}", clock.now() + 300)

    first = vault.get(key(), fetch)
    clock.advance(269)  # 31 s left: still reused
    assert vault.get(key(), fetch) is first
    clock.advance(1)  # 30 s left: inside the margin, refreshed
    second = vault.get(key(), fetch)
    assert second is not first and fetched == [1_000, 1_270]


def test_keys_keep_users_scopes_and_providers_apart() -> None:
    vault = TokenVault()
    counter = iter(range(100))

    def fetch() -> Token:
        return token(f"t{next(counter)}", int(time.time()) + 300)

    values = {vault.get(k, fetch).value for k in (key("jane"), key("bob"), key("jane", frozenset({"a"})))}
    assert len(values) == 3


def test_bounded_least_recently_used_first() -> None:
    vault = TokenVault(max_entries=2)
    exp = int(time.time()) + 300
    vault.put(key("a"), token("a", exp))
    vault.put(key("b"), token("b", exp))
    assert vault.peek(key("a")) is not None  # a is now the most recently used
    vault.put(key("c"), token("c", exp))
    assert len(vault) == 2 and vault.peek(key("b")) is None
    assert {k.user[1] for k in vault.cached_keys()} == {"a", "c"}


def test_invalidate_drops_only_the_token_that_was_refused() -> None:
    vault = TokenVault()
    exp = int(time.time()) + 300
    old, new = token("old", exp), token("new", exp)
    vault.put(key(), new)
    assert not vault.invalidate(key(), old)  # another caller already refreshed it
    assert vault.invalidate(key(), new) and vault.peek(key()) is None


def test_one_fetch_for_many_threads_and_errors_reach_every_waiter() -> None:
    vault = TokenVault()
    calls = 0
    gate = threading.Event()

    def fetch() -> Token:
        nonlocal calls
        calls += 1
        gate.wait(5)
        return token("shared", int(time.time()) + 300)

    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(vault.get(key(), fetch).value)) for _ in range(16)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    gate.set()
    for t in threads:
        t.join(5)
    assert calls == 1 and results == ["shared"] * 16

    errors: list[BaseException] = []
    failing_gate = threading.Event()

    def failing() -> Token:
        failing_gate.wait(5)
        raise RuntimeError("refused")

    def caller() -> None:
        try:
            vault.get(key("bob"), failing)
        except RuntimeError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    failing_gate.set()
    for t in threads:
        t.join(5)
    assert len(errors) == 4
    assert vault.peek(key("bob")) is None  # nothing cached; the next call tries again


def test_one_fetch_for_many_tasks() -> None:
    vault = TokenVault()
    calls = 0

    async def fetch() -> Token:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return token("shared", int(time.time()) + 300)

    async def failing() -> Token:
        await asyncio.sleep(0.05)
        raise RuntimeError("refused")

    async def main() -> None:
        values = await asyncio.gather(*(vault.aget(key(), fetch) for _ in range(20)))
        assert {v.value for v in values} == {"shared"}
        outcomes = await asyncio.gather(*(vault.aget(key("bob"), failing) for _ in range(5)), return_exceptions=True)
        assert all(isinstance(o, RuntimeError) for o in outcomes)

    asyncio.run(main())
    assert calls == 1


def test_vault_repr_and_keys_hold_no_token() -> None:
    vault = TokenVault()
    vault.put(key(), token("secret-token-value", int(time.time()) + 300))
    assert "secret-token-value" not in repr(vault) + repr(vault.cached_keys())
    with pytest.raises(ValueError):
        TokenVault(max_entries=0)


def test_a_vault_hit_is_cheap() -> None:
    """The benchmark the issue asks for: a hit costs microseconds (reported, loosely bounded)."""
    vault = TokenVault()
    vault.put(key(), token("t", int(time.time()) + 300))
    n = 20_000
    start = time.perf_counter()
    for _ in range(n):
        vault.get(key(), lambda: token("x", 0))
    per_hit = (time.perf_counter() - start) / n
    print(f"vault hit: {per_hit * 1e6:.2f} us")
    assert per_hit < 1e-3


def test_a_given_empty_vault_is_used() -> None:
    from deputy.agent import TokenBroker

    vault = TokenVault()
    assert TokenBroker(vault=vault).vault is vault  # an empty vault is falsy: never "vault or ..."
