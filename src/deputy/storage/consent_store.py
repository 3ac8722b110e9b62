"""Consents (delegation grants) in SQL; withdrawing one revokes everything issued under it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from deputy.audit import AuditEvent
from deputy.clock import Clock
from deputy.protocol.sign_in_ports import Consent
from deputy.storage.audit_store import append_in
from deputy.storage.database import Database
from deputy.storage.schema import consents, refresh_tokens
from deputy.storage.token_store import TokenStore


def _consent(row: Any) -> Consent:
    return Consent(
        consent_id=row.consent_id, username=row.username, client_id=row.client_id, resource=row.resource,
        scopes=tuple(row.scopes), created_at=int(row.created_at),
        expires_at=None if row.expires_at is None else int(row.expires_at),
        withdrawn_at=None if row.withdrawn_at is None else int(row.withdrawn_at),
    )


class ConsentStore:
    def __init__(self, db: Database, clock: Clock, tokens: TokenStore) -> None:
        self._db = db
        self._clock = clock
        self._tokens = tokens

    def find_consent(self, username: str, client_id: str, resource: str | None) -> Consent | None:
        query = select(consents).where(
            consents.c.username == username, consents.c.client_id == client_id, consents.c.withdrawn_at.is_(None)
        )
        query = query.where(consents.c.resource.is_(None) if resource is None else consents.c.resource == resource)
        with self._db.read() as conn:
            row = conn.execute(query.order_by(consents.c.created_at.desc()).limit(1)).first()
        return None if row is None else _consent(row)

    def get_consent(self, consent_id: str) -> Consent | None:
        with self._db.read() as conn:
            row = conn.execute(select(consents).where(consents.c.consent_id == consent_id)).first()
        return None if row is None else _consent(row)

    def save_consent(self, consent: Consent, event: AuditEvent) -> None:
        values = {
            "username": consent.username, "client_id": consent.client_id, "resource": consent.resource,
            "scopes": list(consent.scopes), "created_at": consent.created_at, "expires_at": consent.expires_at,
            "withdrawn_at": consent.withdrawn_at,
        }
        with self._db.write(audit=True) as conn:
            exists = conn.execute(select(consents.c.consent_id).where(consents.c.consent_id == consent.consent_id)).first()
            if exists:
                conn.execute(update(consents).where(consents.c.consent_id == consent.consent_id).values(**values))
            else:
                conn.execute(insert(consents).values(consent_id=consent.consent_id, **values))
            append_in(conn, event, self._clock.now())

    def list_consents(self, username: str | None = None, *, include_withdrawn: bool = False) -> list[Consent]:
        query = select(consents)
        if username is not None:
            query = query.where(consents.c.username == username)
        if not include_withdrawn:
            query = query.where(consents.c.withdrawn_at.is_(None))
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(consents.c.created_at, consents.c.consent_id))
            return [_consent(r) for r in rows]

    def withdraw_consent(self, consent_id: str, now: int, event: AuditEvent) -> int:
        with self._db.write(audit=True) as conn:
            conn.execute(
                update(consents)
                .where(consents.c.consent_id == consent_id, consents.c.withdrawn_at.is_(None))
                .values(withdrawn_at=now)
            )
            conn.execute(
                update(refresh_tokens)
                .where(refresh_tokens.c.consent_id == consent_id, refresh_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            count = self._tokens.revoke_by_grant_in(conn, consent_id, "consent withdrawn", now)
            data = dict(event.data)
            data["revoked_count"] = count
            append_in(conn, AuditEvent(**{**event.__dict__, "data": data}), now)
        return count
