"""Authorization codes and refresh tokens in SQL: single use, enforced by compare-and-set."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from deputy.audit import AuditEvent
from deputy.clock import Clock
from deputy.protocol.sign_in_ports import AuthorizationCode, RefreshToken
from deputy.storage.audit_store import append_in
from deputy.storage.database import Database
from deputy.storage.schema import authorization_codes, refresh_tokens
from deputy.storage.token_store import TokenStore


def _code(row: Any) -> AuthorizationCode:
    resource = list(row.resource or [])
    return AuthorizationCode(
        code_hash=row.code_hash, client_id=row.client_id, username=row.username, redirect_uri=row.redirect_uri,
        scope=tuple(row.scope), resource=resource[0] if resource else None, code_challenge=row.code_challenge,
        nonce=row.nonce, auth_time=int(row.auth_time), consent_id=row.consent_id or "",
        expires_at=int(row.expires_at), used_at=None if row.used_at is None else int(row.used_at),
        issued_jtis=tuple(row.issued_jtis or ()),
    )


def _refresh(row: Any) -> RefreshToken:
    resource = list(row.resource or [])
    return RefreshToken(
        token_hash=row.token_hash, family_id=row.family_id, client_id=row.client_id, username=row.username,
        scope=tuple(row.scope), resource=resource[0] if resource else None, consent_id=row.consent_id or "",
        auth_time=int(row.auth_time), issued_at=int(row.issued_at), expires_at=int(row.expires_at),
        used_at=None if row.used_at is None else int(row.used_at),
        revoked_at=None if row.revoked_at is None else int(row.revoked_at),
    )


class CodeStore:
    def __init__(self, db: Database, clock: Clock, tokens: TokenStore) -> None:
        self._db = db
        self._clock = clock
        self._tokens = tokens

    # -- authorization codes ---------------------------------------------------------------------
    def save_code(self, code: AuthorizationCode, event: AuditEvent) -> None:
        with self._db.write(audit=True) as conn:
            conn.execute(
                insert(authorization_codes).values(
                    code_hash=code.code_hash, client_id=code.client_id, username=code.username,
                    redirect_uri=code.redirect_uri, scope=list(code.scope),
                    resource=[code.resource] if code.resource else [], code_challenge=code.code_challenge,
                    nonce=code.nonce, auth_time=code.auth_time, consent_id=code.consent_id,
                    expires_at=code.expires_at, used_at=code.used_at, issued_jtis=list(code.issued_jtis),
                )
            )
            append_in(conn, event, self._clock.now())

    def get_code(self, code_hash: str) -> AuthorizationCode | None:
        with self._db.read() as conn:
            row = conn.execute(select(authorization_codes).where(authorization_codes.c.code_hash == code_hash)).first()
        return None if row is None else _code(row)

    def consume_code(self, code_hash: str, now: int, jti: str) -> bool:
        with self._db.write() as conn:
            result = conn.execute(
                update(authorization_codes)
                .where(authorization_codes.c.code_hash == code_hash, authorization_codes.c.used_at.is_(None))
                .values(used_at=now, issued_jtis=[jti])
            )
            return int(result.rowcount or 0) == 1

    # -- refresh tokens --------------------------------------------------------------------------
    @staticmethod
    def _insert_refresh(conn: Connection, token: RefreshToken) -> None:
        conn.execute(
            insert(refresh_tokens).values(
                token_hash=token.token_hash, family_id=token.family_id, client_id=token.client_id,
                username=token.username, scope=list(token.scope),
                resource=[token.resource] if token.resource else [], consent_id=token.consent_id,
                auth_time=token.auth_time, issued_at=token.issued_at, expires_at=token.expires_at,
                used_at=token.used_at, revoked_at=token.revoked_at,
            )
        )

    def save_refresh_token(self, token: RefreshToken) -> None:
        with self._db.write() as conn:
            self._insert_refresh(conn, token)

    def get_refresh_token(self, token_hash: str) -> RefreshToken | None:
        with self._db.read() as conn:
            row = conn.execute(select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)).first()
        return None if row is None else _refresh(row)

    def rotate_refresh_token(self, old_hash: str, now: int, new: RefreshToken, jti: str) -> bool:
        with self._db.write() as conn:
            result = conn.execute(
                update(refresh_tokens)
                .where(
                    refresh_tokens.c.token_hash == old_hash,
                    refresh_tokens.c.used_at.is_(None),
                    refresh_tokens.c.revoked_at.is_(None),
                )
                .values(used_at=now)
            )
            if int(result.rowcount or 0) != 1:
                return False
            self._insert_refresh(conn, new)
            self._note_issued(conn, new.family_id, jti)
            return True

    @staticmethod
    def _note_issued(conn: Connection, family_id: str, jti: str) -> None:
        """Add ``jti`` to the list of access tokens issued in the family (on the code's row)."""
        table = authorization_codes
        row = conn.execute(select(table.c.issued_jtis).where(table.c.code_hash == family_id)).first()
        if row is not None:
            jtis = [*(row.issued_jtis or []), jti]
            conn.execute(update(table).where(table.c.code_hash == family_id).values(issued_jtis=jtis))

    def revoke_family(self, family_id: str, reason: str, now: int, event: AuditEvent) -> int:
        with self._db.write(audit=True) as conn:
            conn.execute(
                update(refresh_tokens)
                .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            row = conn.execute(
                select(authorization_codes.c.issued_jtis).where(authorization_codes.c.code_hash == family_id)
            ).first()
            jtis = list(row.issued_jtis or []) if row is not None else []
            count = self._tokens.revoke_trees_in(conn, jtis, reason, now)
            data = dict(event.data)
            data["revoked_count"] = count
            append_in(conn, AuditEvent(**{**event.__dict__, "data": data}), now)
        return count
