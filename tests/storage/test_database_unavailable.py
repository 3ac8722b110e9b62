"""Which database failures mean "the store is unavailable" (503), and which stay bugs."""

from __future__ import annotations

import pytest
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
