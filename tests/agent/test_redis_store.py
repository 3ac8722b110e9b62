"""The Redis vault store, against the real Redis on 127.0.0.1:6379: shared by processes, sealed
(Redis holds no token material and no user name), unreadable under another key, expiring with
the token, invalidated only for the token that was refused, one exchange across processes."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest

from deputy.agent import RedisVaultStore, Token, TokenVault, VaultKey, new_vault_key
from deputy.clock import FixedClock
from tests.agent.support import REDIS_URL, redis_prefix

redis = pytest.importorskip("redis", reason="the Redis vault store needs the redis package (extra `redis`)")

URL = REDIS_URL


@pytest.fixture
def prefix() -> Iterator[str]:
    with redis_prefix() as name:
        yield name


def key(user: str) -> VaultKey:
    return VaultKey(("https://idp.example", user), "desk", None, "https://incidents.example", frozenset({"read"}))


def everything(prefix: str) -> dict[bytes, bytes]:
    client = redis.Redis.from_url(URL)
    try:
        return {k: client.get(k) or b"" for k in client.scan_iter(match=prefix + "*")}
    finally:
        client.close()


def test_two_processes_share_one_exchange_and_redis_sees_no_token(prefix: str) -> None:
    secret = new_vault_key()
    first = TokenVault(store=RedisVaultStore(URL, key=secret, prefix=prefix))
    second = TokenVault(store=RedisVaultStore(URL, key=secret, prefix=prefix))  # another process's
    calls: list[str] = []

    def fetch() -> Token:
        calls.append("exchange")
        return Token(value="jane-downstream-token", token_type="Bearer", expires_at=int(time.time()) + 300,
                     refresh_token="jane-refresh-token")

    a = first.get(key("jane"), fetch)
    b = second.get(key("jane"), fetch)
    assert calls == ["exchange"] and b.value == a.value and b.refresh_token == "jane-refresh-token"

    stored = everything(prefix)
    assert stored, "nothing in Redis"
    raw = b"".join(k + v for k, v in stored.items())
    for secret_text in (b"jane-downstream-token", b"jane-refresh-token", b"jane", b"incidents"):
        assert secret_text not in raw

    # A real second process finds it too.
    script = textwrap.dedent(f"""
        from deputy.agent import RedisVaultStore, VaultKey
        store = RedisVaultStore({URL!r}, key={secret!r}, prefix={prefix!r})
        token = store.load(VaultKey(("https://idp.example", "jane"), "desk", None, "https://incidents.example",
                                    frozenset({{"read"}})))
        print(token is not None and token.value == "jane-downstream-token")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60)
    assert result.stdout.strip() == "True", result.stderr


def test_another_key_reads_nothing_and_says_so(prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    RedisVaultStore(URL, key=new_vault_key(), prefix=prefix).save(
        key("jane"), Token(value="jane-token", token_type="Bearer", expires_at=int(time.time()) + 300))
    stranger = TokenVault(store=RedisVaultStore(URL, key=new_vault_key(), prefix=prefix))
    with caplog.at_level(logging.WARNING, logger="deputy.agent"):
        token = stranger.get(key("jane"), lambda: Token(value="own", token_type="Bearer",
                                                        expires_at=int(time.time()) + 300))
    assert token.value == "own"  # a clean miss: it exchanged for itself
    assert any("did not open" in r.getMessage() for r in caplog.records)
    assert all("jane-token" not in r.getMessage() for r in caplog.records)


def test_a_sealed_value_moved_to_another_users_key_does_not_open(prefix: str) -> None:
    secret = new_vault_key()
    store = RedisVaultStore(URL, key=secret, prefix=prefix)
    store.save(key("jane"), Token(value="jane-token", token_type="Bearer", expires_at=int(time.time()) + 300))
    store.save(key("bob"), Token(value="bob-token", token_type="Bearer", expires_at=int(time.time()) + 300))
    client = redis.Redis.from_url(URL)
    from deputy.agent.sealing import row_id

    jane_key, bob_key = f"{prefix}token:{row_id(key('jane'))}", f"{prefix}token:{row_id(key('bob'))}"
    client.set(bob_key, client.get(jane_key) or b"")  # the attack: jane's entry on bob's key
    client.close()
    assert store.load(key("bob")) is None
    loaded = store.load(key("jane"))
    assert loaded is not None and loaded.value == "jane-token"


def test_entries_expire_with_their_token(prefix: str) -> None:
    clock = FixedClock(int(time.time()))
    store = RedisVaultStore(URL, key=new_vault_key(), prefix=prefix, clock=clock.now)
    expires = clock.now() + 120
    store.save(key("jane"), Token(value="t", token_type="Bearer", expires_at=expires))
    client = redis.Redis.from_url(URL)
    from deputy.agent.sealing import row_id

    assert client.expiretime(f"{prefix}token:{row_id(key('jane'))}") == expires  # Redis drops it then
    client.close()
    assert store.load(key("jane")) is not None
    clock.advance(120)
    assert store.load(key("jane")) is None  # this process's clock says expired: not used
    store.save(key("bob"), Token(value="u", token_type="Bearer", expires_at=clock.now() - 1))
    assert store.load(key("bob")) is None and len(everything(prefix)) == 1  # an expired token is not written


def test_invalidation_drops_only_the_refused_token(prefix: str) -> None:
    """Process A's token was refused; meanwhile process B stored a newer one: A's invalidation
    must not delete B's."""
    secret = new_vault_key()
    a, b = (TokenVault(store=RedisVaultStore(URL, key=secret, prefix=prefix)) for _ in range(2))
    old = a.get(key("jane"), lambda: Token(value="old", token_type="Bearer", expires_at=int(time.time()) + 300))
    b.put(key("jane"), Token(value="new", token_type="Bearer", expires_at=int(time.time()) + 300))
    a.invalidate(key("jane"), old)
    fresh = TokenVault(store=RedisVaultStore(URL, key=secret, prefix=prefix))
    assert fresh.get(key("jane"), lambda: pytest.fail("exchanged")).value == "new"
    b.invalidate(key("jane"), fresh.get(key("jane"), lambda: pytest.fail("exchanged")))
    assert RedisVaultStore(URL, key=secret, prefix=prefix).load(key("jane")) is None


def test_one_exchange_across_processes(prefix: str) -> None:
    secret = new_vault_key()
    vaults = [TokenVault(store=RedisVaultStore(URL, key=secret, prefix=prefix)) for _ in range(3)]
    calls: list[int] = []

    def slow_fetch() -> Token:
        calls.append(1)
        time.sleep(0.3)
        return Token(value="shared", token_type="Bearer", expires_at=int(time.time()) + 300)

    results: list[str] = []
    threads = [threading.Thread(target=lambda v=v: results.append(v.get(key("jane"), slow_fetch).value))
               for v in vaults]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == ["shared"] * 3 and len(calls) == 1
    assert not [k for k in everything(prefix) if b":lease:" in k]  # released


def test_a_lease_is_released_only_by_its_owner(prefix: str) -> None:
    secret = new_vault_key()
    first, second = (RedisVaultStore(URL, key=secret, prefix=prefix) for _ in range(2))
    assert first.claim(key("jane"), 10) and not second.claim(key("jane"), 10)
    second.release(key("jane"))  # not its lease: nothing happens
    assert not second.claim(key("jane"), 10)
    first.release(key("jane"))
    assert second.claim(key("jane"), 10)
    second.release(key("jane"))
