"""Backchannel authentication requests (OpenID CIBA) in SQL: decisions and the single issuance
are compare-and-set updates, so that two polls or two clicks can never both win."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from deputy.audit import AuditEvent
from deputy.clock import Clock
from deputy.protocol.backchannel_ports import BackchannelRequest, BackchannelStatus, Poll
from deputy.protocol.sign_in_ports import Consent
from deputy.storage.audit_store import append_in
from deputy.storage.database import Database
from deputy.storage.schema import backchannel_requests, consents

_t = backchannel_requests


def _request(row: Any) -> BackchannelRequest:
    return BackchannelRequest(
        request_id=row.request_id, auth_req_hash=row.auth_req_hash, client_id=row.client_id,
        username=row.username, resource=row.resource, scopes=tuple(row.scopes),
        binding_message=row.binding_message, status=BackchannelStatus(row.status),
        created_at=int(row.created_at), expires_at=int(row.expires_at), interval=int(row.interval),
        last_polled_at=int(row.last_polled_at),
        decided_at=None if row.decided_at is None else int(row.decided_at), decided_by=row.decided_by,
        consent_id=row.consent_id, issued_jti=row.issued_jti,
    )


class BackchannelStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def create_request(self, request: BackchannelRequest, event: AuditEvent) -> None:
        with self._db.write(audit=True) as conn:
            conn.execute(
                insert(_t).values(
                    request_id=request.request_id, auth_req_hash=request.auth_req_hash,
                    client_id=request.client_id, username=request.username, resource=request.resource,
                    scopes=list(request.scopes), binding_message=request.binding_message,
                    status=request.status.value, created_at=request.created_at, expires_at=request.expires_at,
                    interval=request.interval, last_polled_at=request.last_polled_at,
                )
            )
            append_in(conn, event, self._clock.now())

    def get_request(self, request_id: str) -> BackchannelRequest | None:
        with self._db.read() as conn:
            row = conn.execute(select(_t).where(_t.c.request_id == request_id)).first()
        return None if row is None else _request(row)

    def list_requests(self, username: str | None = None, *, pending_at: int | None = None) -> list[BackchannelRequest]:
        query = select(_t)
        if username is not None:
            query = query.where(_t.c.username == username)
        if pending_at is not None:
            query = query.where(_t.c.status == BackchannelStatus.PENDING.value, _t.c.expires_at > pending_at)
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(_t.c.created_at, _t.c.request_id))
            return [_request(r) for r in rows]

    def poll(self, auth_req_hash: str, client_id: str, now: int, slow_down_step: int) -> Poll | None:
        with self._db.write() as conn:
            row = conn.execute(select(_t).where(_t.c.auth_req_hash == auth_req_hash)).first()
            if row is None:
                return None
            request = _request(row)
            if request.client_id != client_id or request.status is not BackchannelStatus.PENDING:
                return Poll(request, too_fast=False)
            too_fast = now < request.last_polled_at + request.interval
            values: dict[str, Any] = {"last_polled_at": now}
            if too_fast:
                values["interval"] = request.interval + slow_down_step
            conn.execute(update(_t).where(_t.c.request_id == request.request_id).values(**values))
            return Poll(request, too_fast)

    def decide(
        self, request_id: str, approve: bool, by: str, now: int, consent: Consent | None, event: AuditEvent
    ) -> BackchannelRequest | None:
        status = BackchannelStatus.APPROVED if approve else BackchannelStatus.DENIED
        with self._db.write(audit=True) as conn:
            changed = conn.execute(
                update(_t)
                .where(_t.c.request_id == request_id, _t.c.status == BackchannelStatus.PENDING.value, _t.c.expires_at > now)
                .values(
                    status=status.value, decided_at=now, decided_by=by,
                    consent_id=consent.consent_id if consent is not None else None,
                )
            ).rowcount
            if changed != 1:
                return None
            if consent is not None:
                conn.execute(
                    insert(consents).values(
                        consent_id=consent.consent_id, username=consent.username, client_id=consent.client_id,
                        resource=consent.resource, scopes=list(consent.scopes), created_at=consent.created_at,
                        expires_at=consent.expires_at, withdrawn_at=None,
                    )
                )
            append_in(conn, event, now)
            row = conn.execute(select(_t).where(_t.c.request_id == request_id)).first()
        return None if row is None else _request(row)

    def mark_issued(self, request_id: str, jti: str, now: int) -> bool:
        with self._db.write() as conn:
            changed = conn.execute(
                update(_t)
                .where(_t.c.request_id == request_id, _t.c.status == BackchannelStatus.APPROVED.value)
                .values(status=BackchannelStatus.ISSUED.value, issued_jti=jti)
            ).rowcount
        return changed == 1
