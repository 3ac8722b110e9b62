"""``DownstreamAuth``: attaches the token; on 401 invalid_token drops it, exchanges again, retries once."""

from __future__ import annotations

import asyncio

import httpx

from deputy.agent import DownstreamAuth, user_token
from tests.agent.fake_as import API, FakeWorld


def test_attaches_and_reuses_the_token() -> None:
    world = FakeWorld()
    broker = world.broker()
    with user_token("jane-token"), httpx.Client(auth=DownstreamAuth(broker, "api"), transport=world.transport()) as api:
        assert api.get(f"{API}/incidents").status_code == 200
        assert api.get(f"{API}/incidents").status_code == 200
    assert world.exchanges == 1 and world.api_calls == ["tok-1-for-jane-token"] * 2


def test_a_revoked_token_is_refreshed_once() -> None:
    world = FakeWorld()
    broker = world.broker()
    with user_token("jane-token"), httpx.Client(auth=DownstreamAuth(broker, "api"), transport=world.transport()) as api:
        assert api.get(f"{API}/incidents").status_code == 200
        world.valid.clear()  # revoked downstream before it expired
        assert api.get(f"{API}/incidents").status_code == 200
        assert world.exchanges == 2
        world.api_refuses_all = True  # the fresh token is refused too: one retry only, then the 401 stands
        response = api.get(f"{API}/incidents")
    assert response.status_code == 401 and world.exchanges == 3
    assert [c.split("-for-")[0] for c in world.api_calls] == ["tok-1", "tok-1", "tok-2", "tok-2", "tok-3"]


def test_async_client_with_the_same_auth() -> None:
    world = FakeWorld()
    broker = world.broker()
    auth = DownstreamAuth(broker, "api", user_token="bob-token")

    async def main() -> list[int]:
        async with httpx.AsyncClient(auth=auth, transport=world.transport()) as api:
            first = await api.get(f"{API}/incidents")
            world.valid.clear()
            second = await api.get(f"{API}/incidents")
            return [first.status_code, second.status_code]

    assert asyncio.run(main()) == [200, 200]
    assert world.exchanges == 2 and "bob-token" not in repr(auth)


def test_other_401s_are_not_retried() -> None:
    world = FakeWorld()
    broker = world.broker()

    def api(request: httpx.Request) -> httpx.Response:
        if str(request.url).startswith(API):
            return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="api"'})
        return world.handle(request)

    with user_token("jane-token"), httpx.Client(auth=DownstreamAuth(broker, "api"),
                                                 transport=httpx.MockTransport(api)) as client:
        assert client.get(f"{API}/x").status_code == 401
    assert world.exchanges == 1
