"""Shared fixtures: a Deputy on a temporary store with the development realm loaded.

The store is SQLite, or a throw-away PostgreSQL database with ``DEPUTY_TEST_DATABASE=postgresql``
(see tests/databases.py; the hook is ``Settings.db_url``, so every test that builds Settings,
opens ``Deputy`` or runs the CLI follows). ``@pytest.mark.sqlite_only`` tests skip on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

from deputy.admin.realm_file import load_realm, read_realm_file
from deputy.clock import FixedClock
from deputy.config import Settings
from deputy.runtime import Deputy
from tests.databases import POSTGRES, POSTGRES_URL, SQLITE_ONLY, postgres_databases

DEV_REALM = Path(__file__).resolve().parents[1] / "src" / "deputy" / "admin" / "dev_realm.toml"
ADMIN_TOKEN = "test-admin-token-0123456789"
ISSUER = "http://127.0.0.1:8000"
AGENT = ("incident-agent", "incident-agent-dev-secret")
TRIAGE = ("triage-agent", "triage-agent-dev-secret")
INCIDENTS = "https://incidents.example"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"

_UNAVAILABLE: list[str] = []  # why the PostgreSQL pass did not run, if it did not
_original_db_url = Settings.db_url


def _pg_db_url(self: Settings) -> str:
    databases = postgres_databases()
    if self.database_url or databases is None:
        return str(_original_db_url.fget(self))  # type: ignore[attr-defined]
    return databases.url_for(self.home)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"sqlite_only: {SQLITE_ONLY}; skipped in the PostgreSQL pass")
    if POSTGRES:
        Settings.db_url = property(_pg_db_url)  # type: ignore[assignment, method-assign]


def pytest_unconfigure(config: pytest.Config) -> None:
    Settings.db_url = _original_db_url  # type: ignore[method-assign]
    databases = postgres_databases()
    if databases is not None and not _UNAVAILABLE:
        databases.close()


def _banner() -> str:
    return (f"!!! POSTGRESQL PASS DID NOT RUN: {make_url(POSTGRES_URL).render_as_string(hide_password=True)} "
            f"is not usable ({' '.join(_UNAVAILABLE[0].split())}) — every test was skipped !!!")


def pytest_report_header(config: pytest.Config) -> str:
    if not POSTGRES:
        return "database: SQLite (DEPUTY_TEST_DATABASE=postgresql for the PostgreSQL pass)"
    return f"database: PostgreSQL at {make_url(POSTGRES_URL).render_as_string(hide_password=True)}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    databases = postgres_databases()
    if databases is None:
        return
    problem = databases.check()
    if problem is not None:
        _UNAVAILABLE.append(problem)
        skip = pytest.mark.skip(reason=_banner())
        for item in items:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _UNAVAILABLE:
        terminalreporter.write_sep("!", _banner(), red=True, bold=True)


@pytest.fixture(autouse=True)
def _test_database(request: pytest.FixtureRequest) -> Iterator[None]:
    """PostgreSQL pass: the databases this test's homes got are emptied (or dropped) when it ends."""
    databases = postgres_databases()
    if databases is None:
        yield
        return
    if request.node.get_closest_marker("sqlite_only"):
        pytest.skip(SQLITE_ONLY)
    databases.test_owned = []
    try:
        yield
    finally:
        owned, databases.test_owned = databases.test_owned, None
        for home in owned:
            databases.release(home)


@pytest.fixture
def clock() -> FixedClock:
    import time

    return FixedClock(int(time.time()))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(issuer=ISSUER, home=tmp_path / "home", admin_token=ADMIN_TOKEN)


@pytest.fixture
def deputy(settings: Settings, clock: FixedClock) -> Iterator[Deputy]:
    instance = Deputy.open(settings, clock)
    load_realm(instance.admin("test"), read_realm_file(DEV_REALM))
    yield instance
    instance.close()
