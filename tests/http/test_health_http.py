"""Liveness (/healthz) and readiness (/readyz): what a load balancer sees when the store goes away."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, update
from starlette.testclient import TestClient

from deputy.clock import FixedClock
from deputy.runtime import Deputy
from deputy.storage.schema import signing_keys


@pytest.fixture
def broken_store(deputy: Deputy) -> Iterator[None]:
    """Point the store at a database file that cannot be opened (a directory that does not
    exist), as if the disk or the database server had gone; put it back afterwards.
    The worker is warm: it loaded its key ring before the store went."""
    deputy.store.keys.key_ring()
    original = deputy.store.db.engine
    deputy.store.db.engine = create_engine("sqlite:////nonexistent-deputy-dir/deputy.db")
    try:
        yield
    finally:
        deputy.store.db.engine.dispose()
        deputy.store.db.engine = original


def test_healthz_and_readyz_when_all_is_well(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r.headers["cache-control"] == "no-store"
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready", "checks": {"database": "ok", "signing_keys": "ok"}}
    assert "retry-after" not in r.headers


def test_healthz_does_not_touch_the_store(client: TestClient, broken_store: None) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_readyz_is_503_with_retry_after_when_the_database_is_gone(
    client: TestClient, broken_store: None, clock: FixedClock
) -> None:
    r = client.get("/readyz")
    assert r.status_code == 503
    assert int(r.headers["retry-after"]) >= 1
    # The cached key ring is still good; the database is not.
    assert r.json() == {"status": "unavailable", "checks": {"database": "unavailable", "signing_keys": "ok"}}
    clock.advance(3600)  # the key ring must be re-read now, and cannot be
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"] == {"database": "unavailable", "signing_keys": "unavailable"}
    assert "nonexistent" not in r.text and "sqlite" not in r.text.lower()


def test_readyz_recovers_when_the_database_returns(client: TestClient, deputy: Deputy) -> None:
    original = deputy.store.db.engine
    deputy.store.db.engine = create_engine("sqlite:////nonexistent-deputy-dir/deputy.db")
    try:
        assert client.get("/readyz").status_code == 503
    finally:
        deputy.store.db.engine.dispose()
        deputy.store.db.engine = original
    assert client.get("/readyz").status_code == 200


def test_readyz_is_503_without_an_active_signing_key(client: TestClient, deputy: Deputy, clock: FixedClock) -> None:
    with deputy.store.db.write() as conn:
        conn.execute(update(signing_keys).values(retire_at=clock.now()))
    deputy.store.keys.invalidate()
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"] == {"database": "ok", "signing_keys": "missing"}
    deputy.store.keys.ensure_keys()
    assert client.get("/readyz").status_code == 200
