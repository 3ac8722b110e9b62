"""``@requires_access_token`` on sync and async functions; the user comes from the context."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from deputy.agent import (
    ConfigurationError,
    NoUserToken,
    TokenRequestFailed,
    requires_access_token,
    set_default_broker,
    user_token,
)
from tests.agent.fake_as import FakeWorld


def test_sync_and_async_tools() -> None:
    world = FakeWorld()
    broker = world.broker()

    @requires_access_token(provider="api", scopes=["read"], broker=broker)
    def query(number: str, *, access_token: str = "") -> str:
        return f"{number}:{access_token}"

    @requires_access_token(provider="api", scopes=["read"], into="token", broker=broker)
    async def aquery(number: str, token: str = "") -> str:
        return f"{number}:{token}"

    with user_token("jane-token"):
        assert query("INC1") == "INC1:tok-1-for-jane-token"
        assert asyncio.run(aquery("INC2")) == "INC2:tok-1-for-jane-token"  # the vault's
    assert query.__name__ == "query" and aquery.__name__ == "aquery"
    assert world.exchanges == 1


def test_the_user_is_per_context() -> None:
    world = FakeWorld()
    set_default_broker(world.broker())

    @requires_access_token(provider="api")
    async def whoami(access_token: str = "") -> str:
        return access_token

    async def request(user: str) -> str:
        with user_token(user):
            await asyncio.sleep(0)
            return await whoami()

    async def main() -> list[str]:
        return await asyncio.gather(request("jane-token"), request("bob-token"))

    assert asyncio.run(main()) == ["tok-1-for-jane-token", "tok-2-for-bob-token"]
    # Outside any request there is no user: an actionable error, never someone else's token.
    with pytest.raises(NoUserToken, match="'api'"):
        contextvars.Context().run(asyncio.run, whoami())


def test_errors_say_provider_flow_and_what_the_server_said() -> None:
    world = FakeWorld(refuse=(400, {"error": "invalid_grant", "error_description": "consent_required"}))
    broker = world.broker()

    @requires_access_token(provider="api", broker=broker)
    def tool(access_token: str = "") -> str:
        return access_token

    with user_token("jane-token"), pytest.raises(TokenRequestFailed) as failed:
        tool()
    assert str(failed.value) == (
        "provider 'api' (token_exchange) at https://as.example/token: HTTP 400, invalid_grant: consent_required"
    )
    assert failed.value.is_invalid_user_token


def test_misuse_fails_at_decoration() -> None:
    with pytest.raises(ConfigurationError, match="no parameter 'access_token'"):
        @requires_access_token(provider="api")
        def tool(x: int) -> int:
            return x
