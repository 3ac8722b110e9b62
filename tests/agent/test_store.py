"""The shared SQLite vault: tokens encrypted at rest, found by another process's vault, bound to
their row, unreadable under another key, purged when expired, dropped on invalidation."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from deputy.agent import (
    ConfigurationError,
    SQLiteVaultStore,
    Token,
    TokenVault,
    VaultKey,
    new_vault_key,
)
from deputy.clock import FixedClock


def key(user: str) -> VaultKey:
    return VaultKey(("https://idp.example", user), "desk", None, "https://incidents.example", frozenset({"read"}))


def test_two_processes_share_one_exchange(tmp_path: Path) -> None:
    secret = new_vault_key()
    path = tmp_path / "vault.db"
    first = TokenVault(store=SQLiteVaultStore(path, key=secret))
    second = TokenVault(store=SQLiteVaultStore(path, key=secret))  # another agent process
    calls: list[str] = []

    def fetch() -> Token:
        calls.append("exchange")
        return Token(value="jane-downstream-token", token_type="Bearer", expires_at=int(time.time()) + 300,
                     refresh_token="jane-refresh-token")

    a = first.get(key("jane"), fetch)
    b = second.get(key("jane"), fetch)
    assert calls == ["exchange"] and b.value == a.value and b.refresh_token == "jane-refresh-token"

    raw = path.read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("vault.db-*"))
    assert b"jane-downstream-token" not in raw and b"jane-refresh-token" not in raw and b"jane" not in raw

    assert second.invalidate(key("jane"), b)
    assert SQLiteVaultStore(path, key=secret).load(key("jane")) is None


def test_sealed_rows_stay_on_their_row_and_under_their_key(tmp_path: Path) -> None:
    secret = new_vault_key()
    path = tmp_path / "vault.db"
    store = SQLiteVaultStore(path, key=secret)
    store.save(key("jane"), Token(value="jane-token", token_type="Bearer", expires_at=int(time.time()) + 300))
    store.save(key("bob"), Token(value="bob-token", token_type="Bearer", expires_at=int(time.time()) + 300))
    assert SQLiteVaultStore(path, key=new_vault_key()).load(key("jane")) is None  # another key: nothing
    db = sqlite3.connect(path)
    rows = dict(db.execute("SELECT id, sealed FROM deputy_agent_tokens").fetchall())
    from deputy.agent.store import row_id

    db.execute("UPDATE deputy_agent_tokens SET sealed = ? WHERE id = ?", (rows[row_id(key("jane"))], row_id(key("bob"))))
    db.commit()
    db.close()
    assert store.load(key("bob")) is None  # jane's sealed token moved onto bob's row does not open
    loaded = store.load(key("jane"))
    assert loaded is not None and loaded.value == "jane-token"


def test_expired_rows_are_neither_used_nor_kept(tmp_path: Path) -> None:
    clock = FixedClock(1_000)
    store = SQLiteVaultStore(tmp_path / "v.db", key=new_vault_key(), clock=clock.now)
    store.save(key("jane"), Token(value="t", token_type="Bearer", expires_at=1_100))
    clock.advance(100)
    assert store.load(key("jane")) is None
    store.save(key("bob"), Token(value="u", token_type="Bearer", expires_at=1_500))
    db = sqlite3.connect(tmp_path / "v.db")
    assert db.execute("SELECT COUNT(*) FROM deputy_agent_tokens").fetchone() == (1,)
    db.close()


def test_the_key_is_required_and_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEPUTY_VAULT_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="DEPUTY_VAULT_KEY"):
        SQLiteVaultStore(tmp_path / "v.db")
    with pytest.raises(ConfigurationError, match="32 bytes"):
        SQLiteVaultStore(tmp_path / "v.db", key=b"short")
    monkeypatch.setenv("DEPUTY_VAULT_KEY", new_vault_key())
    assert "v.db" in repr(SQLiteVaultStore(tmp_path / "v.db"))


def test_one_exchange_across_processes(tmp_path: Path) -> None:
    """Two vaults on one file (two processes, each with its own connection): the second waits for
    the first's lease and finds the token it stored; sync and asyncio alike."""
    import asyncio
    import threading

    secret, path = new_vault_key(), tmp_path / "vault.db"
    vaults = [TokenVault(store=SQLiteVaultStore(path, key=secret)) for _ in range(3)]
    calls: list[int] = []

    def slow_fetch() -> Token:
        calls.append(1)
        time.sleep(0.3)
        return Token(value="shared", token_type="Bearer", expires_at=int(time.time()) + 300)

    results: list[str] = []
    threads = [threading.Thread(target=lambda v=v: results.append(v.get(key("jane"), slow_fetch).value))
               for v in vaults[:2]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)

    async def aslow_fetch() -> Token:
        calls.append(1)
        await asyncio.sleep(0.3)
        return Token(value="bob-shared", token_type="Bearer", expires_at=int(time.time()) + 300)

    async def both() -> list[str]:
        got = await asyncio.gather(vaults[1].aget(key("bob"), aslow_fetch), vaults[2].aget(key("bob"), aslow_fetch))
        return [t.value for t in got]

    assert results == ["shared", "shared"]
    assert asyncio.run(both()) == ["bob-shared", "bob-shared"]
    assert len(calls) == 2  # one per user, not one per process


def test_a_failed_leaseholder_hands_over(tmp_path: Path) -> None:
    import threading

    secret, path = new_vault_key(), tmp_path / "vault.db"
    first, second = (TokenVault(store=SQLiteVaultStore(path, key=secret)) for _ in range(2))
    started = threading.Event()

    def failing() -> Token:
        started.set()
        time.sleep(0.2)
        raise RuntimeError("refused")

    def leader() -> None:
        with pytest.raises(RuntimeError):
            first.get(key("jane"), failing)

    thread = threading.Thread(target=leader)
    thread.start()
    started.wait(5)
    token = second.get(key("jane"), lambda: Token(value="mine", token_type="Bearer", expires_at=int(time.time()) + 60))
    thread.join(5)
    assert token.value == "mine"


def test_a_token_stored_just_before_the_claim_is_used() -> None:
    """The race: this process looks (nothing), the other process stores its token and releases
    its lease, this process claims the lease. It must look again, not exchange a second time."""

    class Racing:
        def __init__(self) -> None:
            self.token: Token | None = None
            self.released = 0

        def load(self, key: VaultKey) -> Token | None:
            return self.token

        def save(self, key: VaultKey, token: Token) -> None:  # pragma: no cover - never exchanges
            self.token = token

        def delete(self, key: VaultKey, fingerprint: str | None = None) -> None:  # pragma: no cover
            self.token = None

        def claim(self, key: VaultKey, seconds: int) -> bool:
            # The other process finished between our look and this claim.
            self.token = Token(value="theirs", token_type="Bearer", expires_at=int(time.time()) + 300)
            return True

        def release(self, key: VaultKey) -> None:
            self.released += 1

    store = Racing()
    vault = TokenVault(store=store)
    token = vault.get(key("jane"), lambda: pytest.fail("exchanged although the other process's token was there"))
    assert token.value == "theirs" and store.released == 1
