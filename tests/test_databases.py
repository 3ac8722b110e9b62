"""The suite's database switch (tests/databases.py) does what it says."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from deputy.config import Settings
from deputy.runtime import Deputy
from tests.databases import POSTGRES, postgres_databases


def test_the_shared_deputy_runs_on_the_database_of_this_pass(deputy: Deputy) -> None:
    assert deputy.store.db.engine.dialect.name == ("postgresql" if POSTGRES else "sqlite")


def test_an_explicit_database_url_is_left_alone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'own.db'}"
    assert Settings(home=tmp_path, database_url=url).db_url == url


@pytest.mark.skipif(not POSTGRES, reason="PostgreSQL pass only")
def test_each_home_gets_its_own_database_dropped_after_the_test(tmp_path: Path) -> None:
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


@pytest.mark.sqlite_only
def test_sqlite_only_tests_run_in_the_sqlite_pass() -> None:
    assert not POSTGRES
