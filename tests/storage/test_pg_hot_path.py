"""The token endpoint's hot path on raw psycopg (``Database.pg_cursor``): the lineage read, the
issuance batch and the replay marks, counted in round trips with libpq's protocol trace; failures
answered as SQLAlchemy's path answers them, and a connection that broke never reused."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from psycopg import pq
from sqlalchemy import create_engine, event, insert, text
from sqlalchemy.exc import IntegrityError

from deputy.audit import AuditEvent, verify_chain
from deputy.errors import InvalidRequest, TemporarilyUnavailable
from deputy.protocol.ports import TokenRecord
from deputy.runtime import Deputy
from deputy.storage.database import Database
from deputy.storage.schema import tokens
from tests.storage.conftest import _pg_base_url


class Trace:
    """What the client sent on the connections opened while tracing (read once they are closed):
    statements (``Parse`` of the extended protocol, ``Query`` of the simple one) and round trips
    (a run of client messages followed by the server's answer). A connection opened for the
    block is fresh, so the pool does not pre-ping it."""

    def __init__(self) -> None:
        self.connections: list[list[str]] = []

    @property
    def round_trips(self) -> int:
        count = 0
        for lines in self.connections:
            sending = False
            for line in lines:
                if line.startswith("B\t"):
                    count += sending
                    sending = False
                elif line.startswith("F\t"):
                    sending = True
        return count

    @property
    def statements(self) -> list[str]:
        found = []
        for lines in self.connections:
            for line in lines:
                parts = line.split("\t")
                if parts[0] == "F" and len(parts) > 3 and parts[2] in ("Parse", "Query"):
                    quoted = parts[3].split('"')
                    found.append(quoted[3] if parts[2] == "Parse" else quoted[1])
        return found


@contextmanager
def traced(db: Database) -> Iterator[Trace]:
    """Trace every connection the block opens (the pool is emptied before and after: closing a
    connection flushes its trace)."""
    trace = Trace()
    files: list[Any] = []

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        files.append(tempfile.TemporaryFile("w+"))  # noqa: SIM115 - closed below
        dbapi_connection.pgconn.trace(files[-1].fileno())
        dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)

    db.engine.dispose()
    event.listen(db.engine, "connect", on_connect)
    try:
        yield trace
    finally:
        event.remove(db.engine, "connect", on_connect)
        db.engine.dispose()
        for file in files:
            file.seek(0)
            trace.connections.append(file.read().splitlines())
            file.close()


def _record(jti: str, parent: str | None, now: int, actors: tuple[str, ...] = ()) -> TokenRecord:
    return TokenRecord(jti=jti, subject="jane", client_id="incident-agent", grant_type="test", mode="delegation",
                       issued_at=now, expires_at=now + 300, audience=("https://incidents.example",),
                       scope=("incidents:read",), actors=actors, parent_jti=parent)


def _issue(deputy: Deputy, jti: str, parent: str | None = None, actors: tuple[str, ...] = ()) -> None:
    deputy.store.tokens.record_issuance(_record(jti, parent, deputy.store.clock.now(), actors),
                                        AuditEvent(type="token.issued", jti=jti, parent_jti=parent))


def test_a_chain_of_four_levels_is_one_statement(pg_deputy: Deputy) -> None:
    _issue(pg_deputy, "root")
    _issue(pg_deputy, "mid", "root", ("incident-agent",))
    _issue(pg_deputy, "leaf", "mid", ("triage-agent", "incident-agent"))
    _issue(pg_deputy, "leaf2", "leaf", ("report-agent", "triage-agent", "incident-agent"))
    with traced(pg_deputy.store.db) as trace:
        chain = pg_deputy.store.tokens.ancestry("leaf2")
    assert trace.round_trips == 1 and len(trace.statements) == 1  # the whole chain, no BEGIN/COMMIT
    assert "WITH RECURSIVE" in trace.statements[0]
    assert [r.jti for r in chain] == ["leaf2", "leaf", "mid", "root"]
    assert chain[0] == pg_deputy.store.tokens.get_token("leaf2")  # the same record as SQLAlchemy's read
    assert chain[0].actors == ("report-agent", "triage-agent", "incident-agent")
    assert chain[1].audience == ("https://incidents.example",) and chain[1].scope == ("incidents:read",)
    assert pg_deputy.store.tokens.ancestry("nope") == []


def test_the_chain_read_stops_at_a_cycle_and_at_a_missing_parent(pg_deputy: Deputy) -> None:
    """As the loop it replaced: every token at most once, and nothing past a row that is not there."""
    now = pg_deputy.store.clock.now()
    rows = [("a", "b"), ("b", "c"), ("c", "a"), ("x", "gone"), ("self", "self")]
    with pg_deputy.store.db.write() as conn:
        conn.execute(insert(tokens), [
            {"jti": jti, "parent_jti": parent, "subject": "jane", "client_id": "c", "grant_type": "t", "mode": "user",
             "audience": [], "scope": [], "actors": [], "issued_at": now, "expires_at": now + 60}
            for jti, parent in rows
        ])
    ancestry = pg_deputy.store.tokens.ancestry
    assert [r.jti for r in ancestry("a")] == ["a", "b", "c"]
    assert [r.jti for r in ancestry("c")] == ["c", "a", "b"]
    assert [r.jti for r in ancestry("x")] == ["x"]
    assert [r.jti for r in ancestry("self")] == ["self"]


def test_an_issuance_batch_is_two_round_trips_whatever_its_size(pg_deputy: Deputy) -> None:
    _issue(pg_deputy, "parent")
    _issue(pg_deputy, "revoked-parent")
    now = pg_deputy.store.clock.now()
    pg_deputy.store.tokens.revoke("revoked-parent", "compromised", now, AuditEvent(type="token.revoked"))
    items = [(_record(jti, parent, now, ("incident-agent",)), AuditEvent(type="token.issued", jti=jti))
             for jti, parent in (("a", "parent"), ("b", "revoked-parent"), ("c", None), ("d", "parent"))]
    with traced(pg_deputy.store.db) as trace:
        results = pg_deputy.store.tokens._record_issuances(items)  # one batch, as group commit writes it
    assert trace.round_trips == 2  # BEGIN + lock + parents' re-check + chain head; the inserts + COMMIT
    assert [s.split()[0] for s in trace.statements] == ["BEGIN", "SELECT", "SELECT", "SELECT", "INSERT", "INSERT",
                                                        "INSERT", "COMMIT"]
    assert [r is None for r in results] == [False, True, False, False]
    assert [pg_deputy.store.tokens.get_token(j) is None for j in "abcd"] == [False, True, False, False]
    records = list(pg_deputy.store.audit.records())
    assert verify_chain(records)[1] is None
    assert [r.event.jti for r in records][-3:] == ["a", "c", "d"]
    assert [r.seq for r in records] == list(range(1, len(records) + 1))


def test_replay_marks_are_one_round_trip_and_the_first_mark_of_a_key_wins(pg_deputy: Deputy) -> None:
    replay = pg_deputy.store.replay
    later = pg_deputy.store.clock.now() + 60
    with traced(pg_deputy.store.db) as trace:
        assert replay._mark_all([("k1", later), ("k2", later), ("k1", later)]) == [True, True, False]
    assert trace.round_trips == 1  # BEGIN, the deletes, the inserts, COMMIT
    assert replay._mark_all([("k2", later), ("k3", later)]) == [False, True]
    with pytest.raises(InvalidRequest):
        replay.mark_used("nul\x00key", later)


def test_a_constraint_violation_rolls_the_raw_transaction_back_and_stays_one(pg_deputy: Deputy) -> None:
    db = pg_deputy.store.db
    with db.pg_cursor(write=True) as cursor:
        cursor.execute("INSERT INTO replay_cache (key, expires_at) VALUES ('k', 1)")
    with pytest.raises(IntegrityError), db.pg_cursor(write=True, audit=True) as cursor:
        cursor.execute("INSERT INTO replay_cache (key, expires_at) VALUES ('j', 1)")
        cursor.execute("INSERT INTO replay_cache (key, expires_at) VALUES ('k', 2)")
    with db.pg_cursor() as cursor:  # the same pooled connection, usable: the failed write was undone whole
        assert cursor.execute("SELECT key, expires_at FROM replay_cache").fetchall() == [("k", 1)]
    with db.read() as conn:  # and SQLAlchemy's transactions still work on it
        assert conn.execute(text("SELECT count(*) FROM replay_cache")).scalar_one() == 1
    assert db.unavailable_errors == 0


@pytest.mark.parametrize("write", [False, True])
def test_a_connection_lost_in_the_raw_path_is_unavailable_and_never_reused(pg_deputy: Deputy, write: bool) -> None:
    db = pg_deputy.store.db
    invalidated: list[Any] = []
    event.listen(db.engine, "invalidate", lambda dbapi_connection, _record, _exc: invalidated.append(dbapi_connection))
    admin = create_engine(_pg_base_url())
    try:
        with pytest.raises(TemporarilyUnavailable), db.pg_cursor(write=write, audit=write) as cursor:
            broken = cursor.connection
            pid = broken.info.backend_pid
            with admin.connect() as conn:  # the server ends this connection mid-transaction
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            cursor.execute("INSERT INTO replay_cache (key, expires_at) VALUES ('lost', 1)")
            cursor.execute("SELECT 1").fetchall()
    finally:
        admin.dispose()
    assert invalidated == [broken] and broken.closed
    assert db.unavailable_errors == 1
    with db.pg_cursor() as cursor:  # a new connection; nothing of the lost write
        assert cursor.connection is not broken
        assert cursor.execute("SELECT count(*) FROM replay_cache WHERE key = 'lost'").fetchone() == (0,)


def test_no_connection_to_be_had_is_unavailable() -> None:
    """The pool hands a failed (re)connect on as the driver's own error: still a 503."""
    db = Database("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")
    try:
        for write in (False, True):
            with pytest.raises(TemporarilyUnavailable), db.pg_cursor(write=write):
                pass
        assert db.unavailable_errors == 2
    finally:
        db.dispose()
