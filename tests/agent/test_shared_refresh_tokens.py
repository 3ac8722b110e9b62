"""User federation's refresh tokens live in the shared vault store (SQLite and Redis), sealed:
the user approves in process A; process B, whose vault never saw the access token, refreshes
with the refresh token A stored, without asking the user; a rotated refresh token reaches A."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from deputy.agent import (
    AuthorizationRequired,
    ClientSecret,
    CredentialProvider,
    MemoryRefreshTokens,
    RedisVaultStore,
    SQLiteVaultStore,
    TokenBroker,
    TokenVault,
    UserFederation,
    new_vault_key,
    user_token,
)
from deputy.agent.store import VaultStore
from tests.agent.support import REDIS_URL, redis_prefix

TOKEN_URL = "https://as.example/token"
JANE = ("jane-session", "https://idp.example", "jane")


class AS:
    """A token endpoint: the code gives a2/r1; each refresh with the current refresh token gives
    the next access token and rotates the refresh token; an old one is refused (invalid_grant)."""

    def __init__(self) -> None:
        self.current = ""
        self.n = 1
        self.grants: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.grants.append(form["grant_type"])
        if form["grant_type"] == "refresh_token" and form["refresh_token"] != self.current:
            return httpx.Response(400, json={"error": "invalid_grant", "error_description": "refresh token reused"})
        self.n += 1
        self.current = f"refresh-{self.n}-secret"
        return httpx.Response(200, json={"access_token": f"a{self.n}", "token_type": "Bearer", "expires_in": 60,
                                         "refresh_token": self.current})


@pytest.fixture(params=["sqlite", "redis"])
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], VaultStore]]:
    """Makes a store per "process", all on the same shared backend."""
    secret = new_vault_key()
    if request.param == "sqlite":
        yield lambda: SQLiteVaultStore(tmp_path / "vault.db", key=secret)
        return
    with redis_prefix() as prefix:
        yield lambda: RedisVaultStore(REDIS_URL, key=secret, prefix=prefix)


def process(world: AS, store: VaultStore | None) -> TokenBroker:
    """One agent process: its own flow object, vault and HTTP client; only the store is shared."""
    transport = httpx.MockTransport(world.handle)
    provider = CredentialProvider(
        name="gh", flow=UserFederation("https://agent.example/cb", authorization_endpoint="https://as.example/authorize"),
        client=ClientSecret("agent", "s"), token_endpoint=TOKEN_URL, scopes=("repo",),
    )
    return TokenBroker([provider], vault=TokenVault(store=store), http_client=httpx.Client(transport=transport))


def test_another_process_refreshes_without_the_user(new_store: Callable[[], VaultStore]) -> None:
    world = AS()
    store_a, store_b = new_store(), new_store()
    a, b = process(world, store_a), process(world, store_b)
    with user_token(JANE[0], issuer=JANE[1], subject=JANE[2]):
        with pytest.raises(AuthorizationRequired) as needed:
            a.get_token("gh")
        assert a.complete_authorization("gh", code="c", state=needed.value.state).value == "a2"
        store_b.delete(a.key("gh")[3])  # the access token is gone (expired): only the refresh token is left
        assert b.get_token("gh").value == "a3"  # B refreshed with A's refresh token: no AuthorizationRequired
        assert world.grants == ["authorization_code", "refresh_token"]

        store_a.delete(a.key("gh")[3])
        a.vault.clear()
        assert a.get_token("gh").value == "a4"  # A uses the refresh token B rotated to, not its stale one
        assert world.grants[-1] == "refresh_token" and world.current == "refresh-4-secret"

    flow = a.provider("gh").flow
    assert isinstance(flow, UserFederation) and flow.refresh_tokens is store_a


def test_refresh_tokens_are_sealed_in_sqlite(tmp_path: Path) -> None:
    world = AS()
    store = SQLiteVaultStore(tmp_path / "vault.db", key=new_vault_key())
    a = process(world, store)
    with user_token(JANE[0], issuer=JANE[1], subject=JANE[2]):
        with pytest.raises(AuthorizationRequired) as needed:
            a.get_token("gh")
        a.complete_authorization("gh", code="c", state=needed.value.state)
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("vault.db*"))
    assert world.current.encode() in b"refresh-2-secret"  # what must not be in the file
    assert b"refresh-2-secret" not in raw and b"jane" not in raw


def test_a_refused_refresh_token_is_forgotten_everywhere(new_store: Callable[[], VaultStore]) -> None:
    world = AS()
    store_a, store_b = new_store(), new_store()
    a, b = process(world, store_a), process(world, store_b)
    with user_token(JANE[0], issuer=JANE[1], subject=JANE[2]):
        with pytest.raises(AuthorizationRequired) as needed:
            a.get_token("gh")
        a.complete_authorization("gh", code="c", state=needed.value.state)
        world.current = "revoked-by-the-user"
        store_b.delete(a.key("gh")[3])
        with pytest.raises(AuthorizationRequired):
            b.get_token("gh")  # refused: the user is asked again
        flow = a.provider("gh").flow
        assert isinstance(flow, UserFederation)
        assert flow.refresh_tokens.load_refresh_token((JANE[1], JANE[2]), "gh", ("repo",)) is None


def test_without_a_shared_store_refresh_tokens_stay_in_memory() -> None:
    broker = process(AS(), None)
    flow = broker.provider("gh").flow
    assert isinstance(flow, UserFederation) and isinstance(flow.refresh_tokens, MemoryRefreshTokens)
