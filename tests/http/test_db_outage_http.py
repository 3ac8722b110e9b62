"""The database goes away under load: every answer is a 200 whose token has its audit event and
lineage record, or a 503 ``temporarily_unavailable`` with Retry-After, never a 500 or a trace;
and the service recovers, without a restart, when the database returns."""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, event, make_url, text
from starlette.testclient import TestClient

from deputy.admin.realm_file import load_realm, read_realm_file
from deputy.audit import verify_chain
from deputy.clock import FixedClock
from deputy.config import Settings
from deputy.errors import PUBLIC_TEXT
from deputy.runtime import Deputy
from deputy.storage.audit_store import AuditFilter
from tests.conftest import ADMIN_TOKEN, AGENT, DEV_REALM, INCIDENTS, ISSUER
from tests.e2e.server import free_port, running_server
from tests.http.support import assert_no_leak, assert_oauth_error, basic, exchange, user_token
from tests.storage.conftest import _pg_base_url
from tests.tcp_proxy import TcpProxy

Check = Callable[[], bool]


def _jti(access_token: str) -> str:
    payload = access_token.split(".")[1]
    jti: str = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]
    return jti


def assert_unavailable(response: httpx.Response) -> None:
    assert_oauth_error(response, 503, "temporarily_unavailable", "store_unavailable")
    assert int(response.headers["retry-after"]) >= 1


def assert_recorded(deputy: Deputy, responses: list[httpx.Response]) -> int:
    """Every 200 has its lineage record and its audit event (by jti); the chain verifies."""
    issued = {r.event.jti for r in deputy.store.audit.records(AuditFilter(type="token.issued"))}
    count = 0
    for response in responses:
        if response.status_code != 200:
            continue
        jti = _jti(response.json()["access_token"])
        assert deputy.store.tokens.get_token(jti) is not None, f"no lineage record for {jti}"
        assert jti in issued, f"no audit event for {jti}"
        count += 1
    checked, broken = verify_chain(deputy.store.audit.records())
    assert broken is None and checked > 0
    return count


def wait_for(check: Check, what: str) -> None:
    """Wait for the load to reach a state; the bound only stops a broken test from hanging."""
    deadline = time.monotonic() + 90
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"the load never reached: {what}")
        time.sleep(0.01)


@pytest.fixture
def proxied_pg(tmp_path: Path, clock: FixedClock) -> Iterator[tuple[Deputy, TcpProxy]]:
    """Deputy on its own PostgreSQL schema, connected through a proxy the test can cut."""
    base = make_url(_pg_base_url())
    schema = f"deputy_outage_{uuid.uuid4().hex[:12]}"
    admin_engine = create_engine(base)
    with admin_engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        with TcpProxy(base.host or "127.0.0.1", base.port or 5432) as proxy:
            url = base.set(host="127.0.0.1", port=proxy.port, query={"options": f"-csearch_path={schema}"})
            settings = Settings(
                issuer=ISSUER, home=tmp_path / "home", admin_token=ADMIN_TOKEN,
                database_url=url.render_as_string(hide_password=False),
            )
            deputy = Deputy.open(settings, clock)
            try:
                load_realm(deputy.admin("test"), read_realm_file(DEV_REALM))
                yield deputy, proxy
            finally:
                deputy.close()
    finally:
        with admin_engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin_engine.dispose()


class Load:
    """Token exchanges from several threads, each on its own keep-alive connection."""

    def __init__(self, base: str, subject: str, threads: int = 4) -> None:
        self.responses: list[httpx.Response] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._base = base
        self._subject = subject
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        with httpx.Client(base_url=self._base, timeout=60) as client:
            while not self._stop.is_set():
                response = exchange(client, AGENT, self._subject, resource=INCIDENTS)
                response.read()
                with self._lock:
                    self.responses.append(response)

    def since(self, mark: int, status: int) -> int:
        with self._lock:
            return sum(1 for r in self.responses[mark:] if r.status_code == status)

    def mark(self) -> int:
        with self._lock:
            return len(self.responses)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)


def test_postgres_goes_away_under_load_and_comes_back(proxied_pg: tuple[Deputy, TcpProxy]) -> None:
    deputy, proxy = proxied_pg
    with running_server(deputy, ADMIN_TOKEN, free_port()) as base:
        with httpx.Client(base_url=base) as client:
            subject = user_token(client, "jane", AGENT[0], ["incidents:read"])
        with Load(base, subject) as load:
            wait_for(lambda: load.since(0, 200) >= 20, "20 exchanges before the cut")
            proxy.cut()
            cut = load.mark()
            wait_for(lambda: load.since(cut, 503) >= 20, "20 refusals while the database is away")
            with httpx.Client(base_url=base) as client:
                assert client.get("/healthz").status_code == 200  # alive: do not restart me
                ready = client.get("/readyz")
                assert ready.status_code == 503 and ready.json()["checks"]["database"] == "unavailable"
                assert "retry-after" in ready.headers
                admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
                for r in (
                    client.post("/introspect", data={"token": subject}, headers=basic(*AGENT)),
                    client.post("/revoke", data={"token": subject}, headers=basic(*AGENT)),
                    client.get("/admin/agents", headers=admin),
                    client.get("/.well-known/oauth-authorization-server"),
                ):
                    assert r.status_code == 503, (r.url, r.text)
                    assert r.json()["error"] == "temporarily_unavailable" and "retry-after" in r.headers
                    assert_no_leak(r)
            proxy.restore()
            restored = load.mark()
            wait_for(lambda: load.since(restored, 200) >= 20, "20 exchanges after the database returned")
        with httpx.Client(base_url=base) as client:
            assert exchange(client, AGENT, subject, resource=INCIDENTS).status_code == 200
            assert client.get("/readyz").status_code == 200
    statuses = {r.status_code for r in load.responses}
    assert statuses <= {200, 503}, statuses
    for response in load.responses:
        if response.status_code == 503:
            assert_unavailable(response)
    assert assert_recorded(deputy, load.responses) >= 40
    assert deputy.store.db.unavailable_errors >= 20


@pytest.mark.sqlite_only
def test_sqlite_locked_past_the_busy_timeout_is_503_and_recovers(
    deputy: Deputy, client: TestClient, settings: Settings
) -> None:
    """Another process holds SQLite's write lock longer than the busy timeout."""
    subject = user_token(client, "jane", AGENT[0], ["incidents:read"])

    @event.listens_for(deputy.store.db.engine, "connect")
    def _short_busy_timeout(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=50")

    deputy.store.db.engine.dispose()  # new connections get the short timeout
    holder = sqlite3.connect(settings.home / "deputy.db", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        assert_unavailable(exchange(client, AGENT, subject, resource=INCIDENTS))
        holder.execute("ROLLBACK")
    finally:
        holder.close()
    r = exchange(client, AGENT, subject, resource=INCIDENTS)
    assert r.status_code == 200, r.text
    assert assert_recorded(deputy, [r]) == 1


PKCE_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_every_endpoint_answers_503_while_the_database_is_gone(deputy: Deputy, raw_client: TestClient) -> None:
    """The JSON endpoints answer in the OAuth error shape, the sign-in pages with the same
    status and text; a warm worker still serves its cached JWKS; and it all comes back."""
    subject = user_token(raw_client, "jane", AGENT[0], ["openid", "incidents:read"])
    deputy.store.keys.key_ring()  # a warm worker
    original = deputy.store.db.engine
    deputy.store.db.engine = create_engine("sqlite:////nonexistent-deputy-dir/deputy.db")
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    try:
        json_endpoints = [
            raw_client.post("/token", data={"grant_type": "client_credentials", "resource": INCIDENTS}, headers=basic(*AGENT)),
            raw_client.post("/introspect", data={"token": subject}, headers=basic(*AGENT)),
            raw_client.post("/revoke", data={"token": subject}, headers=basic(*AGENT)),
            raw_client.get("/.well-known/oauth-authorization-server"),
            raw_client.get("/.well-known/openid-configuration"),
            raw_client.get("/userinfo", headers={"Authorization": f"Bearer {subject}"}),
            raw_client.get("/admin/audit", headers=admin),
            raw_client.post("/admin/users", json={"username": "carol"}, headers=admin),
        ]
        for r in json_endpoints:
            assert r.status_code == 503, (r.url, r.text)
            assert r.json() == {"error": "temporarily_unavailable", "error_description": PUBLIC_TEXT["store_unavailable"]}
            assert r.headers["retry-after"] == "1"
            assert_no_leak(r)
        page = raw_client.get("/authorize", params={
            "client_id": AGENT[0], "response_type": "code", "redirect_uri": "http://127.0.0.1:9/cb",
            "code_challenge": PKCE_CHALLENGE, "code_challenge_method": "S256",
        })
        assert page.status_code == 503 and page.headers["retry-after"] == "1"
        assert PUBLIC_TEXT["store_unavailable"] in page.text
        assert_no_leak(page)
        assert raw_client.get("/jwks").status_code == 200  # from the cached key ring
    finally:
        deputy.store.db.engine.dispose()
        deputy.store.db.engine = original
    assert exchange(raw_client, AGENT, subject, resource=INCIDENTS).status_code == 200
