"""Which database failures mean "the store is unavailable" (503), and which stay bugs."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from deputy.errors import TemporarilyUnavailable
from deputy.runtime import Deputy
from deputy.storage.database import Database, unavailable


class _Orig(Exception):
    pass


@pytest.mark.parametrize(
    "exc",
    [
        OperationalError("SELECT 1", {}, _Orig("server closed the connection unexpectedly")),
        OperationalError("BEGIN IMMEDIATE", {}, _Orig("database is locked")),
        InterfaceError("SELECT 1", {}, _Orig("connection already closed")),
        DBAPIError("SELECT 1", {}, _Orig("terminating connection"), connection_invalidated=True),
        PoolTimeout("QueuePool limit of size 10 overflow 20 reached"),
    ],
)
def test_outages_are_temporarily_unavailable(exc: Exception) -> None:
    mapped = unavailable(exc)
    assert isinstance(mapped, TemporarilyUnavailable)
    assert mapped.status_code == 503 and mapped.retry_after is not None and mapped.retry_after >= 1
    assert mapped.reason == "store_unavailable"


@pytest.mark.parametrize(
    "exc",
    [
        IntegrityError("INSERT", {}, _Orig("duplicate key")),
        ProgrammingError("SELECT", {}, _Orig("syntax error")),
        DBAPIError("SELECT 1", {}, _Orig("data error"), connection_invalidated=False),
        ValueError("not a database error"),
    ],
)
def test_other_failures_are_not_outages(exc: Exception) -> None:
    assert unavailable(exc) is None


def test_a_constraint_violation_reaches_the_store_unchanged(deputy: Deputy) -> None:
    """The replay cache relies on IntegrityError passing through the transaction untouched."""
    assert deputy.store.replay.mark_used("k", 2_000_000_000) is True
    assert deputy.store.replay.mark_used("k", 2_000_000_000) is False
    assert deputy.store.db.unavailable_errors == 0


def test_an_unopenable_database_is_unavailable_and_counted(tmp_path: object) -> None:
    db = Database("sqlite:////nonexistent-deputy-dir/deputy.db")
    try:
        with pytest.raises(TemporarilyUnavailable):
            db.ping()
        assert db.unavailable_errors == 1
    finally:
        db.dispose()


def test_the_raw_sqlite_cursor_keeps_constraint_errors_and_maps_outages(tmp_path: Path) -> None:
    """The token endpoint's hot path (Database.sqlite_cursor) answers failures as read()/write() do."""
    db = Database(f"sqlite:///{tmp_path / 'deputy.db'}")
    try:
        db.migrate()
        with db.sqlite_cursor(write=True) as cursor:
            cursor.execute("INSERT INTO replay_cache (key, expires_at) VALUES ('k', 1)")
        with pytest.raises(IntegrityError), db.sqlite_cursor(write=True) as cursor:
            cursor.execute("INSERT INTO replay_cache (key, expires_at) VALUES ('j', 1)")
            cursor.execute("INSERT INTO replay_cache (key, expires_at) VALUES ('k', 2)")
        with db.sqlite_cursor() as cursor:  # the failed transaction was rolled back whole
            assert cursor.execute("SELECT key, expires_at FROM replay_cache").fetchall() == [("k", 1)]
        assert db.unavailable_errors == 0

        # A store that refuses writes (here: read-only connections) is unavailable, and counted.
        event.listen(db.engine, "connect", lambda conn, _record: conn.execute("PRAGMA query_only=1"))
        db.engine.dispose()
        with pytest.raises(TemporarilyUnavailable), db.sqlite_cursor(write=True) as cursor:
            cursor.execute("DELETE FROM replay_cache")
        assert db.unavailable_errors == 1
    finally:
        db.dispose()
