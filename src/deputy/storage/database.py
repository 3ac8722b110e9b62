"""Engine set-up and the two kinds of transaction: read, and serialised write.

SQLite: WAL, ``synchronous=FULL`` (a commit is on disk before we answer), ``BEGIN IMMEDIATE`` for
writes so that the audit chain head is read and extended atomically, across processes too.
Writers of a file database queue on an ``flock`` of ``<database>.lock`` before ``BEGIN
IMMEDIATE``: a blocked ``flock`` wakes as soon as the holder is done, where SQLite's own busy
handler sleeps and polls (1, 2, 5, ... 100 ms), which made the slowest exchanges wait a second
when several processes write.
PostgreSQL: writes that extend the audit chain take a transaction-level advisory lock, and so
does the migration, so that processes (or machines) starting together on one database migrate it
once instead of racing to create the same tables.

Every committed write that touched a realm table (users, groups, agents, ...) advances this
process's *realm generation* for the database, which empties the in-process realm cache
(:mod:`deputy.storage.realm_cache`).
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import threading
from pathlib import Path
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from deputy.errors import InvalidRequest, TemporarilyUnavailable

AUDIT_LOCK_ID = 0x44455055  # "DEPU"
MIGRATION_LOCK_ID = 0x4D494752  # "MIGR"
_PG_AUDIT_LOCK = "SELECT pg_advisory_xact_lock(%s)"
CONNECT_TIMEOUT_SECONDS = 5
PG_CONNECT_ARGS = {
    "connect_timeout": CONNECT_TIMEOUT_SECONDS,
    "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
}


def unavailable(exc: BaseException) -> TemporarilyUnavailable | None:
    """The one place that decides which database failures mean "the store is unavailable":
    the connection is refused, lost or times out (OperationalError, InterfaceError, any DBAPI
    error that invalidated its connection), SQLite stays locked past its busy timeout
    (OperationalError), or no pooled connection frees up in time. Clients get 503 with
    Retry-After; constraint violations and programming errors are not this, and stay bugs."""
    if isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        return TemporarilyUnavailable("store_unavailable", f"{exc.__class__.__name__}: {exc.orig}")
    if isinstance(exc, PoolTimeout):
        return TemporarilyUnavailable("store_unavailable", f"connection pool: {exc}")
    return None

REALM_TABLES = ("users", "groups", "memberships", "resources", "entitlements", "agents", "agent_grants",
                "agent_secrets", "agent_keys")
_REALM_WRITE = re.compile(
    r"^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO)\s+[\"`]?(?:%s)[\"`]?(?:\s|\(|$)"
    % "|".join(REALM_TABLES), re.IGNORECASE,
)
# Realm generations per database URL, shared by every Database of this process on that URL.
_generations: dict[str, int] = {}
_generations_lock = threading.Lock()


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if ":memory:" not in url and "mode=memory" not in url:
                # Keep a connection for every request thread that may read at once (the server
                # runs handlers in a pool of up to 40 threads). SQLAlchemy's default keeps 5 and
                # closes the rest on return; a new SQLite connection then pays its PRAGMAs and a
                # parse of the schema on its first statement: under 16 concurrent exchanges that
                # churn was a quarter of a worker's CPU (py-spy, docs/performance.md).
                kwargs.update(pool_size=20, max_overflow=30)
        else:
            if not psycopg.Pipeline.is_supported():  # at start-up, not on the first token request
                raise RuntimeError(
                    "PostgreSQL needs libpq 14 or newer for psycopg's pipeline mode (the token endpoint's"
                    f" writes); this psycopg uses libpq {psycopg.pq.version()} ({psycopg.pq.__impl__}):"
                    " install psycopg[binary], which bundles a recent libpq"
                )
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
            # pool_pre_ping replaces connections that died while the database was away, so the
            # service recovers without a restart; a bounded connect keeps a vanished server from
            # holding requests (and pool slots) for the kernel's TCP timeout.
            # TCP keepalives find a database host that vanished without closing its connections
            # (a partition, a power cut) in about 25 s instead of the kernel's two hours.
            kwargs["connect_args"] = {
                name: value for name, value in PG_CONNECT_ARGS.items() if f"{name}=" not in url
            }
        self.engine: Engine = create_engine(url, **kwargs)
        if not self.is_sqlite and (self.engine.dialect.name, self.engine.dialect.driver) != ("postgresql", "psycopg"):
            raise RuntimeError(  # the hot path talks to psycopg 3 directly (pg_cursor)
                f"unsupported database URL {self.engine.url.drivername!r}: use sqlite:///... or postgresql+psycopg://..."
            )
        self._write_lock = threading.Lock()
        self._errors_lock = threading.Lock()
        self.unavailable_errors = 0  # how often the store was unavailable (a metric)
        self._lock_file: int | None = None
        if self.is_sqlite:
            self._configure_sqlite()
            database = self.engine.url.database
            if database and database != ":memory:" and not database.startswith("file:"):
                try:
                    self._lock_file = os.open(database + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                except OSError:
                    pass  # no lock file (e.g. no directory yet): SQLite's busy handler alone, as before
        else:
            self._refuse_nul_characters()
        self._track_realm_writes()

    def _refuse_nul_characters(self) -> None:
        """PostgreSQL cannot hold a NUL character in text, and psycopg refuses such a parameter
        with a DataError, which would be a 500. A value with NUL can name nothing stored, and only
        a hostile or broken client sends one (``client_id=a%00``, ``/admin/users/%00``): refuse
        it as ``invalid_request`` (400) before it reaches the server. SQLite stores NUL and needs
        no guard (there such a name is simply not found)."""
        @event.listens_for(self.engine, "before_cursor_execute")
        def _on_execute(_conn: Connection, _cursor: Any, _statement: str, parameters: Any, *_: Any) -> None:
            if has_nul(parameters):
                raise InvalidRequest("invalid_parameter", "a NUL character in a value sent to PostgreSQL")

    def _track_realm_writes(self) -> None:
        @event.listens_for(self.engine, "before_cursor_execute")
        def _on_execute(conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
            if _REALM_WRITE.match(statement):
                conn.info["realm_write"] = True

    def realm_generation(self) -> int:
        """Advances after every commit (through this process) that changed a realm table."""
        return _generations.get(self.url, 0)

    def _realm_written(self, conn: Connection) -> None:
        if conn.info.pop("realm_write", False):
            with _generations_lock:
                _generations[self.url] = _generations.get(self.url, 0) + 1

    def _configure_sqlite(self) -> None:
        @event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            if ":memory:" not in self.url:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(self.engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")

    def migrate(self) -> None:
        """Bring the schema to the newest migration (creates it on an empty database)."""
        with self._write_lock, self.engine.connect() as conn:
            # SQLite: take the write lock up front (BEGIN IMMEDIATE), so that processes opening
            # a new database together wait for each other instead of failing "database is locked".
            # PostgreSQL: the same, through an advisory lock held until the commit (Alembic runs
            # inside this transaction); the second process then finds the schema at head.
            conn.info["write"] = True
            try:
                if not self.is_sqlite:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
                config = alembic_config()
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
                conn.commit()
            finally:
                conn.info.pop("write", None)
            self._realm_written(conn)

    create_schema = migrate


    @contextmanager
    def read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                with conn.begin():
                    yield conn
        except Exception as exc:
            mapped = self._unavailable(exc)
            if mapped is None:
                raise
            raise mapped from None

    @contextmanager
    def write(self, *, audit: bool = False) -> Iterator[Connection]:
        """A write transaction; committed (durably) when the block ends without error."""
        try:
            if self.is_sqlite:
                with self._write_lock, self._file_lock(), self.engine.connect() as conn:
                    conn.info["write"] = True
                    conn.info.pop("realm_write", None)
                    try:
                        with conn.begin():
                            yield conn
                    except BaseException:
                        conn.info.pop("realm_write", None)
                        raise
                    finally:
                        conn.info.pop("write", None)
                    self._realm_written(conn)  # after the commit: see realm_generation
            else:
                with self.engine.connect() as conn:
                    conn.info.pop("realm_write", None)
                    try:
                        with conn.begin():
                            if audit:
                                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": AUDIT_LOCK_ID})
                            yield conn
                    except BaseException:
                        conn.info.pop("realm_write", None)
                        raise
                    self._realm_written(conn)
        except Exception as exc:
            mapped = self._unavailable(exc)
            if mapped is None:
                raise
            raise mapped from None

    @contextmanager
    def sqlite_cursor(self, *, write: bool = False) -> Iterator[sqlite3.Cursor]:
        """SQLite only: a raw DBAPI cursor for the token endpoint's hot path (lineage read,
        issuance write), without SQLAlchemy's per-statement compilation, events and result
        objects (about a third of an exchange's CPU went there).

        ``write=False``: autocommit, no ``BEGIN``/``COMMIT``: each statement sees the newest
        committed data, which is all a lineage read needs (rows are immutable except for
        ``revoked_at``, which only ever goes from NULL to a time, so reading a chain without a
        snapshot can only see *more* revocations, never fewer).
        ``write=True``: the same serialisation as :meth:`write` (this process's write lock, the
        ``flock`` queue, ``BEGIN IMMEDIATE``), committed (``synchronous=FULL``: on disk) when
        the block ends without error, rolled back otherwise. Statements must not touch realm
        tables (the realm generation is not advanced here).
        Driver errors that mean "unavailable" (locked past the busy timeout, I/O errors) become
        TemporarilyUnavailable, as in :meth:`read` and :meth:`write`."""
        try:
            if write:
                with self._write_lock, self._file_lock():
                    raw = self.engine.raw_connection()
                    try:
                        cursor = cast(sqlite3.Cursor, raw.cursor())
                        cursor.execute("BEGIN IMMEDIATE")
                        try:
                            yield cursor
                        except BaseException:
                            try:
                                cursor.execute("ROLLBACK")
                            except sqlite3.Error:
                                pass  # the pool rolls back on return as well
                            raise
                        cursor.execute("COMMIT")
                    finally:
                        raw.close()
            else:
                raw = self.engine.raw_connection()
                try:
                    yield cast(sqlite3.Cursor, raw.cursor())
                finally:
                    raw.close()
        except sqlite3.Error as exc:
            # As SQLAlchemy would have raised it (IntegrityError, OperationalError, ...), then
            # through the one place that decides what "unavailable" means.
            wrapped = DBAPIError.instance(None, None, exc, sqlite3.Error)
            mapped = self._unavailable(wrapped)
            if mapped is None:
                raise wrapped from exc
            raise mapped from None
        except Exception as exc:
            mapped = self._unavailable(exc)  # e.g. the pool's own errors
            if mapped is None:
                raise
            raise mapped from None

    @contextmanager
    def pg_cursor(self, *, write: bool = False, audit: bool = False) -> Iterator[psycopg.Cursor[Any]]:
        """PostgreSQL only: a raw psycopg cursor for the token endpoint's hot path, as
        :meth:`sqlite_cursor` is for SQLite. The connection comes from the engine's pool
        (``raw_connection``), so pre-ping, the pool's limits and invalidation keep working.

        ``write=False``: autocommit, no ``BEGIN``/``COMMIT`` (the same reasoning as for SQLite:
        a lineage read is one statement, and revocation only ever sets ``revoked_at``).
        ``write=True``: one transaction in *pipeline mode*, holding the audit advisory lock with
        ``audit=True`` (as ``write(audit=True)``), committed before the block returns, rolled
        back otherwise. Statements are sent without waiting for their answers until a result is
        fetched or the block ends: the ``BEGIN``, the lock and the reads queued before the first
        fetch cost one round trip together, the statements after it and the ``COMMIT`` one more
        (a block that fetches nothing before it ends is one round trip in all). Results of the
        block's statements can still be fetched after it has committed. Statements must
        not touch realm tables (the realm generation is not advanced here).

        A connection that failed (lost, closed by the server) is invalidated, never returned to
        the pool as good. Driver errors are wrapped as SQLAlchemy would (an ``IntegrityError``
        stays one) and go through :func:`unavailable`, as in :meth:`read` and :meth:`write`."""
        driver_error: type[Exception] = self.engine.dialect.loaded_dbapi.Error
        try:
            raw = self.engine.raw_connection()  # pre-ping, pool limits
        except Exception as exc:
            error: Exception = exc  # the pool's own errors (no free connection in time), or
            if isinstance(exc, driver_error):  # no connection to be had: handed on unwrapped
                error = DBAPIError.instance(None, None, exc, driver_error, dialect=self.engine.dialect)
            mapped = self._unavailable(error)
            if mapped is None:
                if error is exc:
                    raise
                raise error from exc
            raise mapped from None
        conn = cast("psycopg.Connection[Any]", raw.driver_connection)
        try:
            # Autocommit: the transaction is our explicit BEGIN ... COMMIT, queued in the pipeline
            # (psycopg waits for the answer to a BEGIN of its own before sending anything else).
            conn.autocommit = True
            try:
                if write:
                    try:
                        with conn.pipeline():
                            control = conn.cursor()
                            control.execute("BEGIN")
                            if audit:
                                control.execute(_PG_AUDIT_LOCK, (AUDIT_LOCK_ID,))
                            yield conn.cursor()
                            control.execute("COMMIT")
                        # Leaving the pipeline waited for every answer: committed, or raised the
                        # first error (the statements after it, the COMMIT too, were skipped).
                    except BaseException:
                        if not conn.broken and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                            try:
                                conn.execute("ROLLBACK")
                            except psycopg.Error:
                                pass  # the pool rolls back on return too, and invalidates on failure
                        raise
                else:
                    with conn.cursor() as cursor:
                        yield cursor
            finally:
                if not conn.broken and not conn.closed:
                    try:
                        conn.autocommit = False
                    except psycopg.Error:  # still in a transaction: not fit to go back to the pool
                        raw.invalidate()
        except psycopg.Error as exc:
            invalidated = conn.closed or conn.broken  # the psycopg dialect's is_disconnect
            if invalidated:
                raw.invalidate(exc)  # closed and dropped from the pool, as SQLAlchemy does
            wrapped = DBAPIError.instance(
                None, None, exc, psycopg.Error, connection_invalidated=invalidated, dialect=self.engine.dialect
            )
            mapped = self._unavailable(wrapped)
            if mapped is None:
                raise wrapped from exc
            raise mapped from None
        finally:
            raw.close()

    def unavailable_error(self, exc: Exception) -> TemporarilyUnavailable | None:
        """What ``exc`` means to a client (503) if it means the store is unavailable; counted."""
        return self._unavailable(exc)

    def _unavailable(self, exc: Exception) -> TemporarilyUnavailable | None:
        mapped = unavailable(exc)
        if mapped is not None:
            with self._errors_lock:
                self.unavailable_errors += 1
        return mapped

    def ping(self) -> None:
        """A round trip to the database; raises TemporarilyUnavailable when it does not answer."""
        with self.read() as conn:
            conn.execute(text("SELECT 1"))

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Queue behind other processes' writers (see the module docstring); no-op in memory."""
        if self._lock_file is None:
            yield
            return
        fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def dispose(self) -> None:
        self.engine.dispose()
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None


def has_nul(parameters: Any) -> bool:
    """A NUL in any string of a statement's parameters (a dict, a sequence, or a list of them)."""
    if isinstance(parameters, str):
        return "\x00" in parameters
    if isinstance(parameters, dict):
        return any(has_nul(v) for v in parameters.values())
    if isinstance(parameters, (list, tuple)):
        return any(has_nul(v) for v in parameters)
    return False


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return config
