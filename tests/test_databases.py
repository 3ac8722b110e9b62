"""The suite's database switch (tests/databases.py) does what it says."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from deputy.admin.realm_file import load_realm, read_realm_file
from deputy.config import Settings
from deputy.runtime import Deputy
from tests.conftest import DEV_REALM
from tests.databases import POSTGRES, postgres_databases


def test_the_shared_deputy_runs_on_the_database_of_this_pass(deputy: Deputy) -> None:
    assert deputy.store.db.engine.dialect.name == ("postgresql" if POSTGRES else "sqlite")


def test_an_explicit_database_url_is_left_alone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'own.db'}"
    assert Settings(home=tmp_path, database_url=url).db_url == url


@pytest.mark.skipif(not POSTGRES, reason="PostgreSQL pass only")
def test_each_home_gets_its_own_migrated_database(tmp_path: Path) -> None:
    databases = postgres_databases()
    assert databases is not None
    one, two = Settings(home=tmp_path / "one"), Settings(home=tmp_path / "two")
    assert one.db_url != two.db_url
    assert Settings(home=tmp_path / "one").db_url == one.db_url  # the same home, the same store
    assert databases.test_owned == [(tmp_path / "one").resolve(), (tmp_path / "two").resolve()]
    engine = create_engine(one.db_url)
    try:
        with engine.connect() as conn:  # cloned from the migrated template: already at head
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    finally:
        engine.dispose()


@pytest.mark.skipif(not POSTGRES, reason="PostgreSQL pass only")
def test_a_released_database_comes_back_as_the_migrations_left_it(tmp_path: Path) -> None:
    databases = postgres_databases()
    assert databases is not None
    home = (tmp_path / "used").resolve()
    used = Deputy.open(Settings(home=home))
    load_realm(used.admin("test"), read_realm_file(DEV_REALM))
    used.close()
    name = databases.by_home[home]
    databases.release(home)
    assert databases.free[-1] == name
    fresh_home = (tmp_path / "next").resolve()
    engine = create_engine(Settings(home=fresh_home).db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_database()")).scalar_one() == name
            tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
            rows = {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}
    finally:
        engine.dispose()
    assert rows.pop("alembic_version") == 1
    assert set(rows.values()) == {0}, rows


@pytest.mark.sqlite_only
def test_sqlite_only_tests_run_in_the_sqlite_pass() -> None:
    assert not POSTGRES
