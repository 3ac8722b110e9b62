"""The token endpoint's write on PostgreSQL through psycopg's async driver (``AsyncPgWriter``):
durable, batched, one connection per event loop, and back after the connection is lost."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from deputy.audit import AuditEvent, verify_chain
from deputy.errors import TemporarilyUnavailable
from deputy.protocol.ports import TokenRecord
from deputy.runtime import Deputy


def _record(deputy: Deputy, jti: str, parent: str | None = None) -> TokenRecord:
    now = deputy.store.clock.now()
    return TokenRecord(jti=jti, subject="jane", client_id="incident-agent", grant_type="test", mode="delegation",
                       issued_at=now, expires_at=now + 300, audience=("https://incidents.example",),
                       scope=("incidents:read",), actors=("incident-agent",), parent_jti=parent)


def _event(jti: str) -> AuditEvent:
    return AuditEvent(type="token.issued", client_id="incident-agent", subject="jane", jti=jti)


def test_concurrent_issuances_share_transactions_on_one_async_connection(pg_deputy: Deputy) -> None:
    tokens = pg_deputy.store.tokens

    async def main() -> tuple[list[object], int, int]:
        written = await asyncio.gather(*(tokens.record_issuance_async(_record(pg_deputy, f"t{i}"), _event(f"t{i}"))
                                         for i in range(40)))
        commit = tokens._async_issuances[asyncio.get_running_loop()]
        opened = tokens._pg_writers[asyncio.get_running_loop()].connections_opened
        await tokens.aclose()
        return list(written), commit.batches, opened

    written, batches, opened = asyncio.run(main())
    assert len(written) == 40 and batches < 40 and opened == 1
    assert all(pg_deputy.store.tokens.get_token(f"t{i}") is not None for i in range(40))
    records = list(pg_deputy.store.audit.records())
    assert verify_chain(records)[1] is None
    assert {r.event.jti for r in records} >= {f"t{i}" for i in range(40)}


def test_a_lost_connection_is_a_503_then_a_new_connection_serves(pg_deputy: Deputy) -> None:
    tokens = pg_deputy.store.tokens

    async def main() -> list[str]:
        outcomes = []
        await tokens.record_issuance_async(_record(pg_deputy, "before"), _event("before"))
        writer = tokens._pg_writers[asyncio.get_running_loop()]
        pid = writer._conn.info.backend_pid  # type: ignore[union-attr]
        with pg_deputy.store.db.write() as conn:  # the server drops the connection (a restart, a failover)
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        for jti in ("lost", "after"):
            try:
                await tokens.record_issuance_async(_record(pg_deputy, jti), _event(jti))
                outcomes.append("written")
            except TemporarilyUnavailable:
                outcomes.append("503")
        outcomes.append(str(writer.connections_opened))
        await tokens.aclose()
        return outcomes

    assert asyncio.run(main()) == ["503", "written", "2"]
    assert pg_deputy.store.tokens.get_token("lost") is None  # a 503 wrote nothing
    assert pg_deputy.store.tokens.get_token("after") is not None
    assert verify_chain(list(pg_deputy.store.audit.records()))[1] is None


def test_a_refused_parent_writes_nothing_on_the_async_path(pg_deputy: Deputy) -> None:
    tokens = pg_deputy.store.tokens
    tokens.record_issuance(_record(pg_deputy, "parent"), _event("parent"))
    tokens.revoke("parent", "compromised", pg_deputy.store.clock.now(), AuditEvent(type="token.revoked"))

    async def main() -> str:
        try:
            await tokens.record_issuance_async(_record(pg_deputy, "child", "parent"), _event("child"))
            return "written"
        except Exception as exc:  # noqa: BLE001
            return getattr(exc, "reason", type(exc).__name__)
        finally:
            await tokens.aclose()

    assert asyncio.run(main()) == "subject_token_revoked"
    assert tokens.get_token("child") is None

