"""The append-only, hash-chained audit table."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import psycopg
from sqlalchemy import Connection, Select, insert, select

from deputy.audit import GENESIS_HASH, AuditEvent, AuditRecord
from deputy.audit.chain import canonical_json, chain_hash_of_json
from deputy.clock import Clock
from deputy.storage.database import Database
from deputy.storage.schema import audit_events


# Built once: the hot path then skips constructing and coercing a statement per call.
_HEAD = select(audit_events.c.seq, audit_events.c.hash).order_by(audit_events.c.seq.desc()).limit(1)
_INSERT = insert(audit_events)
# client_id and subject are String(200) filter columns; a refused request can name anything (a
# hostile client sends a 5,000-character client id). The body keeps the whole value; the column
# keeps a prefix, because PostgreSQL enforces the length (SQLite does not) and would fail the
# write, and with it the refusal's answer. Filters compare whole names, which no registered
# client or user exceeds.
FILTER_COLUMN_LENGTH = 200


def _column(value: str | None) -> str | None:
    """The filter column's copy: a prefix, and no NUL (PostgreSQL text cannot hold one), so that
    the refusal of a request naming ``client_id=a%00`` is still audited (the body keeps it)."""
    return None if value is None else value[:FILTER_COLUMN_LENGTH].replace("\x00", "\ufffd")


def append_in(conn: Connection, event: AuditEvent, now: int) -> AuditRecord:
    """Append inside the caller's write transaction (which must hold the audit lock)."""
    return append_many_in(conn, [(event, now)])[0]


def append_many_in(conn: Connection, events: Sequence[tuple[AuditEvent, int]]) -> list[AuditRecord]:
    """Append events (each with its time) in order, inside the caller's write transaction (which
    must hold the audit lock): one read of the chain head, one multi-row insert."""
    head = conn.execute(_HEAD).first()
    rows, records = _chained(None if head is None else (int(head.seq), str(head.hash)), events)
    if rows:
        conn.execute(_INSERT, rows)
    return records


_SQLITE_HEAD = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"
_SQLITE_INSERT = (
    "INSERT INTO audit_events (seq, event_id, time, type, outcome, client_id, subject, actors, audience, body,"
    " prev_hash, hash) VALUES (:seq, :event_id, :time, :type, :outcome, :client_id, :subject, :actors, :audience,"
    " :body, :prev_hash, :hash)"
)


def append_many_sqlite(cursor: sqlite3.Cursor, events: Sequence[tuple[AuditEvent, int]]) -> list[AuditRecord]:
    """:func:`append_many_in` on a raw SQLite cursor inside a write transaction
    (``Database.sqlite_cursor(write=True)``): the same rows, the same chain."""
    head = cursor.execute(_SQLITE_HEAD).fetchone()
    rows, records = _chained(None if head is None else (int(head[0]), str(head[1])), events)
    if rows:
        cursor.executemany(_SQLITE_INSERT, rows)
    return records


PG_HEAD = "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"
PG_INSERT = (
    "INSERT INTO audit_events (seq, event_id, time, type, outcome, client_id, subject, actors, audience, body,"
    " prev_hash, hash) VALUES (%(seq)s, %(event_id)s, %(time)s, %(type)s, %(outcome)s, %(client_id)s, %(subject)s,"
    " %(actors)s, %(audience)s, %(body)s, %(prev_hash)s, %(hash)s)"
)


def queue_head_pg(conn: psycopg.Connection[Any]) -> psycopg.Cursor[Any]:
    """Send the chain-head read inside a write transaction that holds the audit lock
    (``Database.pg_cursor(write=True, audit=True)``, pipeline mode): it is answered in the same
    round trip as the other statements queued before the first fetch. Pass the cursor to
    :func:`append_many_pg`."""
    head = conn.cursor()
    head.execute(PG_HEAD)
    return head


def append_many_pg(
    cursor: psycopg.Cursor[Any], head: psycopg.Cursor[Any], events: Sequence[tuple[AuditEvent, int]]
) -> list[AuditRecord]:
    """:func:`append_many_in` on a raw psycopg cursor, the head read by :func:`queue_head_pg`
    in the same transaction: the same rows, the same chain."""
    rows, records = chain_after(head.fetchone(), events)
    if rows:
        cursor.executemany(PG_INSERT, rows)
    return records


def chain_after(
    head: tuple[Any, ...] | None, events: Sequence[tuple[AuditEvent, int]]
) -> tuple[list[dict[str, object]], list[AuditRecord]]:
    """The audit rows (for ``PG_INSERT``) that extend the chain after the row ``PG_HEAD`` read."""
    return _chained(None if head is None else (int(head[0]), str(head[1])), events)


def _chained(
    head: tuple[int, str] | None, events: Sequence[tuple[AuditEvent, int]]
) -> tuple[list[dict[str, object]], list[AuditRecord]]:
    """The rows that extend the chain after ``head`` (seq, hash), and their records."""
    seq, prev_hash = (0, GENESIS_HASH) if head is None else head
    rows: list[dict[str, object]] = []
    records: list[AuditRecord] = []
    for event, now in events:
        seq += 1
        event_id = uuid.uuid4().hex
        body = canonical_json(event.to_dict())
        digest = chain_hash_of_json(prev_hash, seq, event_id, now, body)
        rows.append(dict(
            seq=seq,
            event_id=event_id,
            time=now,
            type=event.type,
            outcome=event.outcome,
            client_id=_column(event.client_id),
            subject=_column(event.subject),
            actors="|" + "|".join(event.actor_chain) + "|",
            audience="|" + "|".join(event.audience) + "|",
            body=body,
            prev_hash=prev_hash,
            hash=digest,
        ))
        records.append(AuditRecord(seq, event_id, now, event, prev_hash, digest))
        prev_hash = digest
    return rows, records


@dataclass(frozen=True)
class AuditFilter:
    subject: str | None = None
    agent: str | None = None  # client or any actor in the chain
    audience: str | None = None
    type: str | None = None
    outcome: str | None = None
    since: int | None = None
    until: int | None = None
    limit: int | None = None
    newest_first: bool = False


class AuditStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def append(self, event: AuditEvent) -> AuditRecord:
        with self._db.write(audit=True) as conn:
            return append_in(conn, event, self._clock.now())

    def _query(self, flt: AuditFilter) -> Select[tuple[object, ...]]:
        t = audit_events
        query = select(
            t.c.seq, t.c.event_id, t.c.time, t.c.body, t.c.prev_hash, t.c.hash,
            t.c.type, t.c.outcome, t.c.client_id, t.c.subject, t.c.actors, t.c.audience,
        )
        if flt.subject:
            query = query.where(t.c.subject == flt.subject)
        if flt.agent:
            query = query.where(
                (t.c.client_id == flt.agent) | t.c.actors.contains(f"|{flt.agent}|", autoescape=True)
            )
        if flt.audience:
            query = query.where(t.c.audience.contains(f"|{flt.audience}|", autoescape=True))
        if flt.type:
            query = query.where(t.c.type == flt.type)
        if flt.outcome:
            query = query.where(t.c.outcome == flt.outcome)
        if flt.since is not None:
            query = query.where(t.c.time >= flt.since)
        if flt.until is not None:
            query = query.where(t.c.time < flt.until)
        query = query.order_by(t.c.seq.desc() if flt.newest_first else t.c.seq)
        if flt.limit:
            query = query.limit(flt.limit)
        return query

    def records(self, flt: AuditFilter | None = None, batch: int = 1000) -> Iterator[AuditRecord]:
        """Matching records, read in batches so that a long trail does not fill memory."""
        flt = flt or AuditFilter()
        with self._db.read() as conn:
            result = conn.execution_options(yield_per=batch).execute(self._query(flt))
            # Close the (server-side, on PostgreSQL) cursor even when the caller stops early,
            # as verify_chain does at the first break.
            with result:
                for row in result:
                    event = _with_columns(AuditEvent.from_dict(json.loads(str(row.body))), row)
                    yield AuditRecord(
                        int(row.seq), str(row.event_id), int(row.time), event, str(row.prev_hash), str(row.hash)
                    )

    def count(self) -> int:
        with self._db.read() as conn:
            last = conn.execute(select(audit_events.c.seq).order_by(audit_events.c.seq.desc()).limit(1)).first()
            return 0 if last is None else int(last.seq)


def _with_columns(event: AuditEvent, row: Any) -> AuditEvent:
    """The filter columns are copies of the body that the hash does not cover. If any of them
    disagrees with the body (one of the two was changed, e.g. to hide an event from filtered
    queries), the event is returned with the disagreement attached, so that its hash no longer
    matches and verification reports the record as tampered."""
    columns = {
        "type": row.type, "outcome": row.outcome, "client_id": row.client_id, "subject": row.subject,
        "actors": row.actors, "audience": row.audience,
    }
    from_body = {
        "type": event.type, "outcome": event.outcome, "client_id": _column(event.client_id),
        "subject": _column(event.subject), "actors": "|" + "|".join(event.actor_chain) + "|", "audience": "|" + "|".join(event.audience) + "|",
    }
    if columns == from_body:
        return event
    mismatch = {k: columns[k] for k in columns if columns[k] != from_body[k]}
    return replace(event, data={**event.data, "_column_mismatch": mismatch})
