"""A real Deputy under uvicorn for the agent SDK's tests, and helpers to read its audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def issued(base: str) -> list[dict[str, Any]]:
    """Every ``token.issued`` event in Deputy's audit trail: one per token request that succeeded."""
    response = httpx.get(f"{base}/admin/audit", params={"type": "token.issued", "order": "asc"}, headers=ADMIN)
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()
    return events


REDIS_URL = "redis://127.0.0.1:6379/0"


@contextmanager
def redis_prefix() -> Iterator[str]:
    """A Redis key prefix of the caller's own (skips loudly without Redis); every key under it is
    deleted afterwards."""
    redis = pytest.importorskip("redis", reason="the Redis vault store needs the redis package (extra `redis`)")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        client.close()
        pytest.skip(f"NO REDIS at {REDIS_URL}: the Redis vault store tests did not run")
    name = f"deputy-test:{uuid.uuid4().hex}:"
    try:
        yield name
    finally:
        for found in client.scan_iter(match=name + "*"):
            client.delete(found)
        client.close()


def with_healthz(app: Any) -> Any:
    """``app`` with ``GET /healthz`` answered (what tests.e2e.asgi_server.serving() waits for)."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/healthz":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        await app(scope, receive, send)

    return wrapped
