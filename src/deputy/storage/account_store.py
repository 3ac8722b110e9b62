"""Local users' password hashes, failure counters and lock-outs, and sign-in sessions in SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from deputy.accounts.ports import Credential, Session
from deputy.audit import AuditEvent
from deputy.clock import Clock
from deputy.storage.audit_store import append_in
from deputy.storage.database import Database
from deputy.storage.schema import sessions, user_credentials


def _session(row: Any) -> Session:
    return Session(
        session_hash=row.session_hash, username=row.username, auth_time=int(row.auth_time),
        expires_at=int(row.expires_at), ended_at=None if row.ended_at is None else int(row.ended_at),
    )


class AccountStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def get_credential(self, username: str) -> Credential | None:
        with self._db.read() as conn:
            row = conn.execute(select(user_credentials).where(user_credentials.c.username == username)).first()
        if row is None:
            return None
        return Credential(row.username, row.password_hash, int(row.failed_attempts or 0), row.locked_until)

    def set_password_hash(self, username: str, password_hash: str, now: int, event: AuditEvent | None) -> None:
        values = {"password_hash": password_hash, "failed_attempts": 0, "locked_until": None, "updated_at": now}
        with self._db.write(audit=event is not None) as conn:
            table = user_credentials
            if conn.execute(select(table.c.username).where(table.c.username == username)).first():
                conn.execute(update(table).where(table.c.username == username).values(**values))
            else:
                conn.execute(insert(table).values(username=username, **values))
            if event is not None:
                append_in(conn, event, now)

    def record_failure(self, username: str, now: int, max_failures: int, lock_seconds: int) -> int | None:
        table = user_credentials
        with self._db.write() as conn:  # serialised: two failures at once both count
            row = conn.execute(select(table.c.failed_attempts).where(table.c.username == username)).first()
            if row is None:
                return None
            failures = int(row.failed_attempts or 0) + 1
            if failures >= max_failures:
                locked_until = now + lock_seconds
                conn.execute(
                    update(table).where(table.c.username == username).values(failed_attempts=0, locked_until=locked_until)
                )
                return locked_until
            conn.execute(update(table).where(table.c.username == username).values(failed_attempts=failures))
            return None

    def clear_failures(self, username: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                update(user_credentials)
                .where(user_credentials.c.username == username)
                .values(failed_attempts=0, locked_until=None)
            )

    def create_session(self, session: Session, event: AuditEvent) -> None:
        with self._db.write(audit=True) as conn:
            conn.execute(
                insert(sessions).values(
                    session_hash=session.session_hash, username=session.username, auth_time=session.auth_time,
                    expires_at=session.expires_at, ended_at=session.ended_at,
                )
            )
            append_in(conn, event, self._clock.now())

    def get_session(self, session_hash: str) -> Session | None:
        with self._db.read() as conn:
            row = conn.execute(select(sessions).where(sessions.c.session_hash == session_hash)).first()
        return None if row is None else _session(row)

    def end_session(self, session_hash: str, now: int, event: AuditEvent) -> None:
        with self._db.write(audit=True) as conn:
            conn.execute(
                update(sessions)
                .where(sessions.c.session_hash == session_hash, sessions.c.ended_at.is_(None))
                .values(ended_at=now)
            )
            append_in(conn, event, now)
