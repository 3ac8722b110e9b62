"""Which database the suite runs on: SQLite (the default) or PostgreSQL.

``DEPUTY_TEST_DATABASE=postgresql`` runs the whole suite on PostgreSQL
(``DEPUTY_TEST_POSTGRES_URL``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``; the
role needs CREATEDB). Every Deputy home a test uses gets its own throw-away database, cloned from a
template that the real migrations built once for the session (``CREATE DATABASE ... TEMPLATE``:
about 30 ms instead of 200 ms for migrating a fresh schema). ``Deputy.open`` still runs the
migrations on the clone, which then has nothing to do. When the test ends its databases are
emptied (``DELETE`` from every table but ``alembic_version``: the state the migrations leave,
~10 ms) and handed to the next test; creating and dropping one per test cost ~150 ms, about four
minutes over the suite. A database something is still connected to is dropped instead, and every
database is dropped when the session ends.

The hook is :attr:`Settings.db_url`: tests build ``Settings`` without a ``database_url`` and get
``sqlite:///<home>/deputy.db``; in the PostgreSQL pass they get the clone for that home instead.
Code that starts another process passes :func:`database_env` to it.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from sqlalchemy import Connection, Engine, NullPool, create_engine, make_url, text

from deputy.storage.database import Database
from deputy.storage.schema import metadata

MODE = os.environ.get("DEPUTY_TEST_DATABASE", "sqlite").strip().lower() or "sqlite"
if MODE not in ("sqlite", "postgresql"):
    raise SystemExit(f"DEPUTY_TEST_DATABASE must be 'sqlite' or 'postgresql', not {MODE!r}")
POSTGRES = MODE == "postgresql"
POSTGRES_URL = os.environ.get("DEPUTY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SQLITE_ONLY = "SQLite-specific (file, lock file or pragmas); runs in the SQLite pass"


class PostgresDatabases:
    """Throw-away PostgreSQL databases, one per Deputy home, cloned from a migrated template."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.prefix = f"deputy_t{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self._admin: Engine | None = None
        self._template: str | None = None
        self.by_home: dict[Path, str] = {}
        self.free: list[str] = []  # emptied databases, ready for the next home
        self._empty_sql: list[str] | None = None
        self.test_owned: list[Path] | None = None  # homes opened by the running test (released after it)

    def check(self) -> str | None:
        """None when the server answers and lets us create databases, else why not."""
        try:
            with self.admin.connect() as conn:
                conn.execute(text("SELECT 1"))
                allowed = conn.execute(
                    text("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user")
                ).scalar_one()
        except Exception as exc:  # noqa: BLE001 - any failure means "not available"
            return f"{exc.__class__.__name__}: {str(exc).strip()[:300]}"
        return None if allowed else f"role {self.url.username!r} may not create databases (needs CREATEDB)"

    @property
    def admin(self) -> Engine:
        if self._admin is None:
            self._admin = create_engine(self.url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        return self._admin

    def _url_of(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def _execute(self, sql: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(sql))

    def template(self) -> str:
        """Migrated once per session by the same Alembic migrations ``Deputy.open`` runs."""
        if self._template is None:
            name = f"{self.prefix}_template"
            self._execute(f'CREATE DATABASE "{name}"')
            db = Database(self._url_of(name))
            try:
                db.migrate()
            finally:
                db.dispose()  # a template must have no connections when it is cloned
            self._template = name
        return self._template

    def url_for(self, home: Path) -> str:
        """The database of this home, created on first use."""
        home = Path(home).resolve()
        name = self.by_home.get(home)
        if name is None:
            if self.free:
                name = self.free.pop()
            else:
                name = f"{self.prefix}_{uuid.uuid4().hex[:12]}"
                self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template()}"')
            self.by_home[home] = name
            if self.test_owned is not None:
                self.test_owned.append(home)
        return self._url_of(name)

    def release(self, home: Path) -> None:
        """The test that used this home is over: empty its database for the next one."""
        name = self.by_home.pop(home, None)
        if name is None:
            return
        engine = create_engine(self._url_of(name), poolclass=NullPool)
        try:
            with engine.begin() as conn:
                others = conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"),
                    {"name": name},
                ).scalar_one()
                if others == 0:
                    for statement in self._emptying(conn):
                        conn.execute(text(statement))
        finally:
            engine.dispose()
        if others == 0:
            self.free.append(name)
        else:
            self._drop(name)  # still in use (a process the test started, a pool it did not close)

    def _emptying(self, conn: Connection) -> list[str]:
        """DELETE statements, children before parents, for every table the migrations made."""
        if self._empty_sql is None:
            present = set(conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )).scalars()) - {"alembic_version"}
            ordered = [t.name for t in reversed(metadata.sorted_tables) if t.name in present]
            unknown = sorted(present - set(ordered))
            self._empty_sql = [f'DELETE FROM "{t}"' for t in unknown + ordered]
            sequences = conn.execute(text(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()"
            )).scalars()
            self._empty_sql += [f'ALTER SEQUENCE "{s}" RESTART' for s in sequences]
        return self._empty_sql

    def _drop(self, name: str) -> None:
        # WITH (FORCE): a connection a test forgot (or a killed server left) must not keep it
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        for name in [*self.by_home.values(), *self.free]:
            self._drop(name)
        self.by_home.clear()
        self.free.clear()
        if self._template is not None:
            self._execute(f'DROP DATABASE IF EXISTS "{self._template}" WITH (FORCE)')
            self._template = None
        if self._admin is not None:
            self._admin.dispose()
            self._admin = None


_databases: PostgresDatabases | None = PostgresDatabases(POSTGRES_URL) if POSTGRES else None


def postgres_databases() -> PostgresDatabases | None:
    """The PostgreSQL pass's databases; None in the SQLite pass."""
    return _databases


def database_env(home: Path) -> dict[str, str]:
    """Environment for a process that opens this home's store (``DEPUTY_DATABASE_URL`` or nothing)."""
    if _databases is None:
        return {}
    return {"DEPUTY_DATABASE_URL": _databases.url_for(home)}
