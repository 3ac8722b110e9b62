"""PostgreSQL through psycopg's async driver, for the writes an event loop awaits.

The token endpoint awaits its durable write (``TokenStore.record_issuance_async``); on PostgreSQL
that write is sent from the event loop itself with :class:`psycopg.AsyncConnection`, so no thread
waits on the network for it. The group commit writes one batch at a time per loop, so one
connection per loop is all it needs; it is opened on first use and again after a failure (a
connection that failed is closed, never reused).

Each transaction is as ``Database.pg_cursor(write=True)`` makes it: pipeline mode, an explicit
``BEGIN``, the audit advisory lock, ``COMMIT`` — committed before the block returns. Driver
errors are wrapped as SQLAlchemy would and mapped by the database's one ``unavailable`` rule
(a lost or refused connection is 503 ``temporarily_unavailable``).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from sqlalchemy.exc import DBAPIError

from deputy.storage.database import AUDIT_LOCK_ID, PG_CONNECT_ARGS, Database

_AUDIT_LOCK = "SELECT pg_advisory_xact_lock(%s)"


class AsyncPgWriter:
    def __init__(self, db: Database) -> None:
        self._db = db
        # The engine's URL without SQLAlchemy's driver suffix: what libpq understands.
        self._conninfo = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        # Deputy's connection defaults (timeout, keepalives), as for the pool; the URL's values win.
        self._defaults: dict[str, Any] = {k: v for k, v in PG_CONNECT_ARGS.items() if k not in db.engine.url.query}
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self.connections_opened = 0

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True, **self._defaults)
            # A loop that ends without aclose() (a test client's, say) must not leave it open.
            weakref.finalize(asyncio.get_running_loop(), conn.pgconn.finish)
            self._conn = conn
            self.connections_opened += 1
        return self._conn

    @asynccontextmanager
    async def transaction(self, *, audit: bool = True) -> AsyncIterator[psycopg.AsyncCursor[Any]]:
        """One committed transaction (holding the audit lock with ``audit``); see the module."""
        try:
            conn = await self._connection()
            try:
                async with conn.pipeline():
                    control = conn.cursor()
                    await control.execute("BEGIN")
                    if audit:
                        await control.execute(_AUDIT_LOCK, (AUDIT_LOCK_ID,))
                    yield conn.cursor()
                    await control.execute("COMMIT")
            except BaseException:
                await self._abandon(conn)
                raise
        except psycopg.Error as exc:
            wrapped = DBAPIError.instance(None, None, exc, psycopg.Error, dialect=self._db.engine.dialect)
            mapped = self._db.unavailable_error(wrapped)
            if mapped is None:
                raise wrapped from exc
            raise mapped from None

    async def _abandon(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """After a failure: roll back, or drop a connection that is no longer usable."""
        if not conn.broken and not conn.closed:
            try:
                if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    await conn.execute("ROLLBACK")
                return
            except psycopg.Error:
                pass
        await self.aclose()

    def close_now(self) -> None:
        """Close the connection without its loop (the store is closing; the loop may be gone)."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            conn.pgconn.finish()

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            try:
                await conn.close()
            except psycopg.Error:
                pass
