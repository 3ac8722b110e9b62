"""The cost of the agent SDK's token vault (docs/agent-sdk.md).

Reports, per call: a vault hit (TokenVault.get), a hit through ``@requires_access_token`` (the
broker resolving the provider, the user and the key), a hit through ``aget_token``, and a hit
in the shared SQLite store and in the shared Redis store (memory empty, token decrypted), when
Redis answers on 127.0.0.1:6379. No network beyond that: the token endpoint is an
``httpx.MockTransport`` that is called once.

    .venv/bin/python benchmarks/agent_vault.py [--calls 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from deputy.agent import (
    ClientSecret,
    CredentialProvider,
    RedisVaultStore,
    SQLiteVaultStore,
    Token,
    TokenBroker,
    TokenExchange,
    TokenVault,
    VaultKey,
    new_vault_key,
    requires_access_token,
    user_token,
)

REDIS_URL = "redis://127.0.0.1:6379/0"


def per_call(label: str, calls: int, run: Callable[[], object]) -> None:
    run()
    start = time.perf_counter()
    for _ in range(calls):
        run()
    print(f"{label:<45} {(time.perf_counter() - start) / calls * 1e6:8.2f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    calls = parser.parse_args().calls

    key = VaultKey(("https://idp.example", "jane"), "desk", None, "https://incidents.example", frozenset({"read"}))
    token = Token(value="t", token_type="Bearer", expires_at=int(time.time()) + 3600)
    vault = TokenVault()
    vault.put(key, token)
    per_call("TokenVault.get (hit)", calls, lambda: vault.get(key, lambda: token))

    transport = httpx.MockTransport(lambda request: httpx.Response(
        200, json={"access_token": "downstream", "token_type": "Bearer", "expires_in": 3600}))
    broker = TokenBroker(
        [CredentialProvider(name="desk", flow=TokenExchange(), client=ClientSecret("agent", "secret"),
                            token_endpoint="https://as.example/token", resource="https://incidents.example")],
        http_client=httpx.Client(transport=transport), async_http_client=httpx.AsyncClient(transport=transport),
    )

    @requires_access_token(provider="desk", broker=broker)
    def tool(access_token: str = "") -> str:
        return access_token

    with user_token("jane-token", issuer="https://idp.example", subject="jane"):
        per_call("@requires_access_token (hit)", calls, tool)

        async def many() -> None:
            for _ in range(calls):
                await broker.aget_token("desk")

        start = time.perf_counter()
        asyncio.run(many())
        print(f"{'TokenBroker.aget_token (hit)':<45} {(time.perf_counter() - start) / calls * 1e6:8.2f} us")

    with tempfile.TemporaryDirectory() as home:
        store = SQLiteVaultStore(Path(home) / "vault.db", key=new_vault_key())
        store.save(key, token)
        shared = TokenVault(store=store)

        def from_store() -> object:
            shared.clear()
            return shared.get(key, lambda: token)

        per_call("TokenVault.get (SQLite store hit, decrypted)", max(calls // 20, 100), from_store)
        store.close()

    try:
        redis_store = RedisVaultStore(REDIS_URL, key=new_vault_key(), prefix=f"deputy-bench:{uuid.uuid4().hex}:")
        redis_store.save(key, token)
    except Exception as exc:  # noqa: BLE001 - any failure to reach Redis: skip that line, say why
        print(f"{'TokenVault.get (Redis store hit, decrypted)':<45} skipped: {exc.__class__.__name__}: {exc}")
        return
    in_redis = TokenVault(store=redis_store)

    def from_redis() -> object:
        in_redis.clear()
        return in_redis.get(key, lambda: token)

    per_call("TokenVault.get (Redis store hit, decrypted)", max(calls // 20, 100), from_redis)
    redis_store.delete(key)
    redis_store.close()


if __name__ == "__main__":
    main()
