"""Storage fixtures: the shared SQLite ``deputy`` and the same service on a fresh PostgreSQL schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from deputy.admin.realm_file import load_realm, read_realm_file
from deputy.clock import FixedClock
from deputy.config import Settings
from deputy.runtime import Deputy
from deputy.storage.schema import metadata
from tests.conftest import ADMIN_TOKEN, DEV_REALM, ISSUER
from tests.databases import POSTGRES

PG_HOST = os.environ.get("DEPUTY_TEST_PG", "127.0.0.1:5432/test")
PG_USERS = ("postgres", "root")


def _pg_base_url() -> str:
    """The first PostgreSQL role that can connect, or a loud skip."""
    problems = []
    for user in PG_USERS:
        url = f"postgresql+psycopg://{user}@{PG_HOST}"
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return url
        except Exception as exc:  # noqa: BLE001 - any failure means "not available"
            problems.append(f"{user}: {exc.__class__.__name__}: {str(exc).strip()[:200]}")
        finally:
            engine.dispose()
    pytest.skip(
        "!!! POSTGRESQL NOT REACHABLE at " + PG_HOST + " — the PostgreSQL variant of this test DID NOT RUN !!! "
        + " | ".join(problems)
    )


@pytest.fixture
def pg_deputy(tmp_path: Path, clock: FixedClock) -> Iterator[Deputy]:
    """Deputy on its own PostgreSQL schema (created here, dropped afterwards)."""
    base = _pg_base_url()
    schema = f"deputy_test_{uuid.uuid4().hex[:12]}"
    admin_engine = create_engine(base)
    with admin_engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{base}?options=-csearch_path%3D{schema}"
    scoped = create_engine(url)
    try:
        metadata.drop_all(scoped)  # a fresh schema is empty; make sure of it
        settings = Settings(issuer=ISSUER, home=tmp_path / "pg-home", admin_token=ADMIN_TOKEN, database_url=url)
        instance = Deputy.open(settings, clock)
        assert instance.store.db.engine.dialect.name == "postgresql"
        with instance.store.db.read() as conn:
            assert conn.execute(text("SELECT current_schema()")).scalar_one() == schema
        load_realm(instance.admin("test"), read_realm_file(DEV_REALM))
        try:
            yield instance
        finally:
            instance.close()
            metadata.drop_all(scoped)
    finally:
        scoped.dispose()
        with admin_engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin_engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_deputy(request: pytest.FixtureRequest) -> Deputy:
    """The same test on both supported databases."""
    if request.param == "sqlite" and POSTGRES:
        pytest.skip("PostgreSQL pass: `deputy` is on PostgreSQL too; the [postgresql] variant runs this test")
    name = "deputy" if request.param == "sqlite" else "pg_deputy"
    instance: Deputy = request.getfixturevalue(name)
    return instance
