"""Several processes (or machines) starting together on one empty PostgreSQL database: each
starts, the schema is migrated once, and there is one active signing key per algorithm.

SQLite serialises these through ``BEGIN IMMEDIATE``; PostgreSQL through advisory locks.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, select, text

from deputy.constants import ISSUING_ALGORITHMS
from deputy.storage.schema import signing_keys
from tests.storage.conftest import _pg_base_url

STARTER = textwrap.dedent(
    """
    import sys
    from deputy.storage import Store

    store = Store(sys.argv[1])
    store.initialise()
    store.close()
    """
)


@pytest.fixture
def empty_pg_url() -> Iterator[str]:
    base = _pg_base_url()
    schema = f"deputy_start_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def test_processes_starting_together_migrate_once_and_make_one_key_each(empty_pg_url: str) -> None:
    starters = [subprocess.Popen([sys.executable, "-c", STARTER, empty_pg_url], stderr=subprocess.PIPE, text=True)
                for _ in range(4)]
    errors = [s.communicate(timeout=120)[1] for s in starters]
    assert [s.returncode for s in starters] == [0] * 4, errors
    engine = create_engine(empty_pg_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
            active = conn.execute(select(signing_keys.c.alg).where(signing_keys.c.retire_at.is_(None))).all()
    finally:
        engine.dispose()
    assert Counter(r.alg for r in active) == Counter(ISSUING_ALGORITHMS)
