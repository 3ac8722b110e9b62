"""Token lineage: who got which token from which, and revocation that cascades down the tree."""

from __future__ import annotations

import asyncio
import json
import threading
import weakref
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Connection, Row, select, text, update

from deputy.audit import AuditEvent, AuditRecord
from deputy.clock import Clock
from deputy.errors import InvalidRequest
from deputy.protocol.ports import TokenRecord
from deputy.storage.audit_store import (
    PG_HEAD,
    PG_INSERT,
    append_in,
    append_many_pg,
    append_many_sqlite,
    chain_after,
    queue_head_pg,
)
from deputy.storage.database import Database, has_nul
from deputy.storage.group_commit import AsyncGroupCommit, GroupCommit, in_thread
from deputy.storage.lineage_cache import LineageCache
from deputy.storage.pg_async import AsyncPgWriter
from deputy.storage.schema import token_actors, tokens

_DESCENDANTS = text(
    """
    WITH RECURSIVE tree(jti) AS (
        SELECT jti FROM tokens WHERE jti = :root
        UNION
        SELECT t.jti FROM tokens t JOIN tree ON t.parent_jti = tree.jti
    )
    SELECT jti FROM tree
    """
)


# The token endpoint's hot path runs on the raw DBAPI cursor (Database.sqlite_cursor and
# Database.pg_cursor). JSON columns are stored as SQLAlchemy's JSON type stores them (json.dumps).
_COLUMNS = ("jti", "parent_jti", "subject", "client_id", "grant_type", "mode", "audience", "scope", "actors",
            "issued_at", "expires_at", "revoked_at", "revoked_reason", "grant_ref")
_SQLITE_BY_JTI = f"SELECT {', '.join(_COLUMNS)} FROM tokens WHERE jti = ?"
_SQLITE_INSERT_TOKEN = f"INSERT INTO tokens ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_SQLITE_INSERT_ACTOR = "INSERT INTO token_actors (jti, agent_id) VALUES (?, ?)"
_SQLITE_PARENTS_REVOKED = "SELECT jti, revoked_at, revoked_reason FROM tokens WHERE revoked_at IS NOT NULL AND jti IN "

# And for psycopg (Database.pg_cursor). The whole chain in one statement: up the parent links
# from the token, stopping at a missing row or a token already in the path (a cycle), as
# _read_ancestry's loop does; the token first.
_PG_ANCESTRY = " ".join(f"""
    WITH RECURSIVE chain AS (
        SELECT {', '.join('t.' + c for c in _COLUMNS)}, 0 AS depth, ARRAY[t.jti::text] AS path
        FROM tokens t WHERE t.jti = %s
        UNION ALL
        SELECT {', '.join('t.' + c for c in _COLUMNS)}, c.depth + 1, c.path || t.jti::text
        FROM chain c JOIN tokens t ON t.jti = c.parent_jti
        WHERE t.jti <> ALL (c.path)
    )
    SELECT {', '.join(_COLUMNS)} FROM chain ORDER BY depth
""".split())  # one line: readable in logs and protocol traces
_PG_INSERT_TOKEN = f"INSERT INTO tokens ({', '.join(_COLUMNS)}) VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
_PG_INSERT_ACTOR = "INSERT INTO token_actors (jti, agent_id) VALUES (%s, %s)"
_PG_PARENTS_REVOKED = "SELECT jti, revoked_at, revoked_reason FROM tokens WHERE revoked_at IS NOT NULL AND jti = ANY(%s)"


def _record(row: Row[Any]) -> TokenRecord:
    return TokenRecord(
        jti=row.jti,
        subject=row.subject,
        client_id=row.client_id,
        grant_type=row.grant_type,
        mode=row.mode,
        issued_at=int(row.issued_at),
        expires_at=int(row.expires_at),
        audience=tuple(row.audience),
        scope=tuple(row.scope),
        actors=tuple(row.actors),
        parent_jti=row.parent_jti,
        revoked_at=row.revoked_at,
        revoked_reason=row.revoked_reason,
        grant_ref=row.grant_ref,
    )


def _sqlite_record(row: tuple[Any, ...]) -> TokenRecord:
    (jti, parent_jti, subject, client_id, grant_type, mode, audience, scope, actors, issued_at, expires_at,
     revoked_at, revoked_reason, grant_ref) = row
    return TokenRecord(
        jti=jti, subject=subject, client_id=client_id, grant_type=grant_type, mode=mode,
        issued_at=int(issued_at), expires_at=int(expires_at), audience=tuple(json.loads(audience)),
        scope=tuple(json.loads(scope)), actors=tuple(json.loads(actors)), parent_jti=parent_jti,
        revoked_at=revoked_at, revoked_reason=revoked_reason, grant_ref=grant_ref,
    )


def _pg_record(row: tuple[Any, ...]) -> TokenRecord:
    """A row of _COLUMNS from psycopg, which decodes the JSON columns itself."""
    (jti, parent_jti, subject, client_id, grant_type, mode, audience, scope, actors, issued_at, expires_at,
     revoked_at, revoked_reason, grant_ref) = row
    return TokenRecord(
        jti=jti, subject=subject, client_id=client_id, grant_type=grant_type, mode=mode,
        issued_at=int(issued_at), expires_at=int(expires_at), audience=tuple(audience), scope=tuple(scope),
        actors=tuple(actors), parent_jti=parent_jti, revoked_at=revoked_at, revoked_reason=revoked_reason,
        grant_ref=grant_ref,
    )


def _token_rows(
    accepted: list[tuple[TokenRecord, AuditEvent]],
) -> tuple[list[tuple[object, ...]], list[tuple[str, str]]]:
    """The raw-cursor rows of ``tokens`` (JSON columns as SQLAlchemy's JSON type stores them:
    ``json.dumps``) and of ``token_actors``."""
    token_rows: list[tuple[object, ...]] = []
    actor_rows: list[tuple[str, str]] = []
    for record, _ in accepted:
        token_rows.append((
            record.jti, record.parent_jti, record.subject, record.client_id, record.grant_type, record.mode,
            json.dumps(list(record.audience)), json.dumps(list(record.scope)),
            json.dumps(list(record.actors)), record.issued_at, record.expires_at, record.revoked_at,
            record.revoked_reason, record.grant_ref,
        ))
        actor_rows += [(record.jti, a) for a in dict.fromkeys(record.actors)]
    return token_rows, actor_rows


def _parent_revoked(record: TokenRecord, revoked: dict[str, tuple[int, str | None]]) -> bool:
    """The parent was revoked after the grant read it (the cascade did not see this child)."""
    return record.revoked_at is None and record.parent_jti in revoked


class TokenStore:
    def __init__(self, db: Database, clock: Clock, lineage_max_age: float = 1.0) -> None:
        self._db = db
        self._clock = clock
        self._issuances: GroupCommit[tuple[TokenRecord, AuditEvent], AuditRecord | None] = GroupCommit(
            self._record_issuances
        )
        self.lineage_cache = LineageCache(lineage_max_age)
        # Event-loop callers (the HTTP token endpoint): one group commit per loop, written by
        # one thread of this store's, so that no request holds a thread while its write waits.
        self._async_issuances: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, AsyncGroupCommit[tuple[TokenRecord, AuditEvent], AuditRecord | None]
        ] = weakref.WeakKeyDictionary()
        self._pg_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncPgWriter] = (
            weakref.WeakKeyDictionary()
        )
        self._writer: ThreadPoolExecutor | None = None
        self._writer_lock = threading.Lock()

    def record_issuance(self, record: TokenRecord, event: AuditEvent) -> AuditRecord:
        """Durable before it returns; concurrent issuances share a transaction (group commit).

        Refused (``invalid_request``, ``subject_token_revoked``; nothing written) when the
        parent was revoked after the grant read it: revocations hold the same lock as this
        write, so the check inside its transaction is current, and a revoked token is never
        exchanged however old the grant's read was (see :mod:`deputy.storage.lineage_cache`)."""
        return _issued(record, self._issuances.submit((record, event)))

    async def record_issuance_async(self, record: TokenRecord, event: AuditEvent) -> AuditRecord:
        """:meth:`record_issuance` on an event loop: awaited, not waited for in a thread."""
        loop = asyncio.get_running_loop()
        commit = self._async_issuances.get(loop)
        if commit is None:
            if self._db.is_sqlite:  # sqlite3 has no async API: one writer thread
                commit = AsyncGroupCommit(in_thread(self._record_issuances, self._writer_thread()))
            else:  # psycopg's async driver, from the loop itself
                writer = self._pg_writers[loop] = AsyncPgWriter(self._db)
                commit = AsyncGroupCommit(lambda items: self._record_issuances_pg_async(writer, items))
            self._async_issuances[loop] = commit
        return _issued(record, await commit.submit((record, event)))

    async def _record_issuances_pg_async(
        self, writer: AsyncPgWriter, items: Sequence[tuple[TokenRecord, AuditEvent]]
    ) -> list[AuditRecord | None]:
        """:meth:`_record_issuances_pg` with psycopg's async driver: the same statements, the
        same two round trips, the same rows and checks."""
        parents = sorted({r.parent_jti for r, _ in items if r.parent_jti is not None and r.revoked_at is None})
        async with writer.transaction(audit=True) as cursor:
            conn = cursor.connection
            parents_read = conn.cursor()
            if parents:
                await parents_read.execute(_PG_PARENTS_REVOKED, (parents,))
            head = conn.cursor()
            await head.execute(PG_HEAD)
            revoked: dict[str, tuple[int, str | None]] = {
                jti: (int(at), reason) for jti, at, reason in await parents_read.fetchall()
            } if parents else {}
            accepted = [(record, event) for record, event in items if not _parent_revoked(record, revoked)]
            if not accepted:
                return [None] * len(items)
            token_rows, actor_rows = _token_rows(accepted)
            if has_nul(token_rows) or has_nul(actor_rows):
                raise InvalidRequest("invalid_parameter", "a NUL character in a value sent to PostgreSQL")
            await cursor.executemany(_PG_INSERT_TOKEN, token_rows)
            if actor_rows:
                await cursor.executemany(_PG_INSERT_ACTOR, actor_rows)
            now = self._clock.now()
            audit_rows, written = chain_after(await head.fetchone(), [(event, now) for _, event in accepted])
            await cursor.executemany(PG_INSERT, audit_rows)
        return _results(items, accepted, written)

    async def aclose(self) -> None:
        """Close this loop's async PostgreSQL connection (the app's shutdown)."""
        writer = self._pg_writers.pop(asyncio.get_running_loop(), None)
        if writer is not None:
            await writer.aclose()

    def _writer_thread(self) -> ThreadPoolExecutor:
        with self._writer_lock:
            if self._writer is None:
                self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deputy-token-writer")
            return self._writer

    def close(self) -> None:
        """Stop the writer thread (after the writes it has been given) and close the async
        PostgreSQL connections."""
        with self._writer_lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.shutdown(wait=True)
        for pg_writer in list(self._pg_writers.values()):
            pg_writer.close_now()

    def _record_issuances(self, items: Sequence[tuple[TokenRecord, AuditEvent]]) -> list[AuditRecord | None]:
        if self._db.is_sqlite:
            return self._record_issuances_sqlite(items)
        return self._record_issuances_pg(items)

    def _record_issuances_pg(self, items: Sequence[tuple[TokenRecord, AuditEvent]]) -> list[AuditRecord | None]:
        """:meth:`_record_issuances` on PostgreSQL's raw cursor, in pipeline mode: the advisory
        lock, the parents' revocation re-check and the audit chain head in one round trip, then
        the tokens, actors and audit events (one prepared insert per table, every row bound in
        the same round trip as the ``COMMIT``). The same rows and checks as on SQLite."""
        parents = sorted({r.parent_jti for r, _ in items if r.parent_jti is not None and r.revoked_at is None})
        with self._db.pg_cursor(write=True, audit=True) as cursor:
            conn = cursor.connection
            parents_read = conn.cursor()
            if parents:
                parents_read.execute(_PG_PARENTS_REVOKED, (parents,))
            head = queue_head_pg(conn)
            revoked: dict[str, tuple[int, str | None]] = {
                jti: (int(at), reason) for jti, at, reason in parents_read.fetchall()
            } if parents else {}
            accepted = [(record, event) for record, event in items if not _parent_revoked(record, revoked)]
            if not accepted:
                return [None] * len(items)
            token_rows, actor_rows = _token_rows(accepted)
            if has_nul(token_rows) or has_nul(actor_rows):  # as the SQLAlchemy path's guard does
                raise InvalidRequest("invalid_parameter", "a NUL character in a value sent to PostgreSQL")
            cursor.executemany(_PG_INSERT_TOKEN, token_rows)
            if actor_rows:
                cursor.executemany(_PG_INSERT_ACTOR, actor_rows)
            now = self._clock.now()
            written = append_many_pg(cursor, head, [(event, now) for _, event in accepted])
        return _results(items, accepted, written)

    def _record_issuances_sqlite(self, items: Sequence[tuple[TokenRecord, AuditEvent]]) -> list[AuditRecord | None]:
        """:meth:`_record_issuances` on SQLite's raw cursor: the same rows in one ``BEGIN
        IMMEDIATE`` transaction (the SQLite write lock is the audit lock), the same checks."""
        with self._db.sqlite_cursor(write=True) as cursor:
            parents = sorted({r.parent_jti for r, _ in items if r.parent_jti is not None and r.revoked_at is None})
            revoked: dict[str, tuple[int, str | None]] = {
                jti: (int(at), reason)
                for jti, at, reason in cursor.execute(
                    _SQLITE_PARENTS_REVOKED + "(" + ", ".join("?" * len(parents)) + ")", parents
                )
            } if parents else {}
            accepted = [(record, event) for record, event in items if not _parent_revoked(record, revoked)]
            if not accepted:
                return [None] * len(items)
            token_rows, actor_rows = _token_rows(accepted)
            cursor.executemany(_SQLITE_INSERT_TOKEN, token_rows)
            if actor_rows:
                cursor.executemany(_SQLITE_INSERT_ACTOR, actor_rows)
            now = self._clock.now()
            written = append_many_sqlite(cursor, [(event, now) for _, event in accepted])
        return _results(items, accepted, written)

    def get_token(self, jti: str) -> TokenRecord | None:
        with self._db.read() as conn:
            row = conn.execute(select(tokens).where(tokens.c.jti == jti)).first()
        return None if row is None else _record(row)

    def ancestry(self, jti: str, *, recent: bool = False) -> list[TokenRecord]:
        """``recent=True``: the answer may come from a read up to ``lineage_max_age`` seconds
        old, for callers whose issuance re-checks the parent at commit (the subject token)."""
        if recent:
            return self.lineage_cache.get(jti, lambda: self._read_ancestry(jti))
        return self._read_ancestry(jti)

    def _read_ancestry(self, jti: str) -> list[TokenRecord]:
        if self._db.is_sqlite:
            return self._ancestry_sqlite(jti)
        if has_nul(jti):  # as the SQLAlchemy path's guard does
            raise InvalidRequest("invalid_parameter", "a NUL character in a value sent to PostgreSQL")
        with self._db.pg_cursor() as cursor:  # one round trip for the whole chain, autocommit
            return [_pg_record(row) for row in cursor.execute(_PG_ANCESTRY, (jti,))]

    def _ancestry_sqlite(self, jti: str) -> list[TokenRecord]:
        """One ``SELECT`` per level in autocommit (see ``Database.sqlite_cursor`` for why no
        snapshot is needed): read on every exchange, so a revocation is honoured at once."""
        chain: list[TokenRecord] = []
        seen: set[str] = set()
        with self._db.sqlite_cursor() as cursor:
            current: str | None = jti
            while current is not None and current not in seen:
                seen.add(current)
                row = cursor.execute(_SQLITE_BY_JTI, (current,)).fetchone()
                if row is None:
                    break
                record = _sqlite_record(row)
                chain.append(record)
                current = record.parent_jti
        return chain

    def descendants(self, jti: str) -> list[TokenRecord]:
        """The token and everything derived from it (for `deputy tokens show`), every token
        after its parent. Exchanges within one second share ``issued_at``, so that alone
        would not order a child after its parent."""
        with self._db.read() as conn:
            ids = [r.jti for r in conn.execute(_DESCENDANTS, {"root": jti})]
            if not ids:
                return []
            rows = conn.execute(select(tokens).where(tokens.c.jti.in_(ids)).order_by(tokens.c.issued_at, tokens.c.jti))
            records = {r.jti: r for r in map(_record, rows)}
        ordered: list[TokenRecord] = []
        placed: set[str] = set()
        frontier = [jti]
        while frontier:  # breadth-first from the root
            level = [r for r in records.values() if r.jti in frontier and r.jti not in placed]
            ordered += level
            placed.update(r.jti for r in level)
            parents = {r.jti for r in level}
            frontier = [r.jti for r in records.values() if r.parent_jti in parents and r.jti not in placed]
        return ordered

    def _revoke_trees(self, conn: Connection, roots: Iterable[str], reason: str, now: int) -> int:
        self.lineage_cache.invalidate()
        count = 0
        for root in roots:
            ids = [r.jti for r in conn.execute(_DESCENDANTS, {"root": root})]
            if ids:
                result = conn.execute(
                    update(tokens)
                    .where(tokens.c.jti.in_(ids), tokens.c.revoked_at.is_(None))
                    .values(revoked_at=now, revoked_reason=reason)
                )
                count += int(result.rowcount or 0)
        return count

    def revoke(self, jti: str, reason: str, now: int, event: AuditEvent) -> int:
        with self._db.write(audit=True) as conn:
            count = self._revoke_trees(conn, [jti], reason, now)
            append_in(conn, _with_count(event, count), now)
        self.lineage_cache.invalidate()  # again after the commit: no read in between is kept
        return count

    def revoke_by_actor_in(self, conn: Connection, agent_id: str, reason: str, now: int) -> int:
        """Revoke every live token in which ``agent_id`` acted, and their descendants."""
        roots = [
            r.jti
            for r in conn.execute(
                select(token_actors.c.jti)
                .join(tokens, tokens.c.jti == token_actors.c.jti)
                .where(token_actors.c.agent_id == agent_id, tokens.c.revoked_at.is_(None), tokens.c.expires_at > now)
            )
        ]
        roots += [
            r.jti
            for r in conn.execute(
                select(tokens.c.jti).where(
                    tokens.c.client_id == agent_id, tokens.c.revoked_at.is_(None), tokens.c.expires_at > now
                )
            )
        ]
        return self._revoke_trees(conn, dict.fromkeys(roots), reason, now)

    def revoke_trees_in(self, conn: Connection, roots: Iterable[str], reason: str, now: int) -> int:
        """Revoke the given tokens and their descendants inside the caller's transaction."""
        return self._revoke_trees(conn, dict.fromkeys(roots), reason, now)

    def revoke_by_grant_in(self, conn: Connection, grant_ref: str, reason: str, now: int) -> int:
        """Revoke every token issued under a consent (``grant_ref``), and their descendants."""
        roots = [r.jti for r in conn.execute(select(tokens.c.jti).where(tokens.c.grant_ref == grant_ref))]
        return self._revoke_trees(conn, roots, reason, now)

    def count(self) -> int:
        with self._db.read() as conn:
            return len(conn.execute(select(tokens.c.jti)).all())


def _issued(record: TokenRecord, written: AuditRecord | None) -> AuditRecord:
    if written is None:
        raise InvalidRequest(
            "subject_token_revoked", f"parent {record.parent_jti} was revoked before {record.jti} was committed"
        )
    return written


def _results(
    items: Sequence[tuple[TokenRecord, AuditEvent]], accepted: list[tuple[TokenRecord, AuditEvent]],
    written: list[AuditRecord],
) -> list[AuditRecord | None]:
    """One result per item, in order: its audit record, or None for a refused one."""
    by_jti = {record.jti: audit for (record, _), audit in zip(accepted, written, strict=True)}
    return [by_jti.get(record.jti) for record, _ in items]


def _with_count(event: AuditEvent, count: int) -> AuditEvent:
    data = dict(event.data)
    data["revoked_count"] = count
    return AuditEvent(**{**event.__dict__, "data": data})
