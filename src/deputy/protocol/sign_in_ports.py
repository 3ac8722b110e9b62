"""What sign-in, consent and the code and refresh grants need from storage (small Protocols).

Codes, refresh tokens and session cookies are random values stored only as SHA-256 hashes.
A refresh-token *family* is named after the authorization code it was born from
(``family_id`` = the code's hash), so the code's row lists every access token issued in the
family: a replayed code or a reused refresh token revokes them all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from deputy.audit import AuditEvent


def opaque_hash(value: str) -> str:
    """The stored form of a code, refresh token or session cookie (64 hex characters)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Consent:
    """A delegation grant: ``username`` lets ``client_id`` act for them at ``resource`` (or, with
    no resource, receive tokens addressed to the client itself) with ``scopes``."""

    consent_id: str
    username: str
    client_id: str
    resource: str | None
    scopes: tuple[str, ...]
    created_at: int
    expires_at: int | None = None
    withdrawn_at: int | None = None

    def live(self, now: int) -> bool:
        return self.withdrawn_at is None and (self.expires_at is None or self.expires_at > now)

    def covers(self, scopes: frozenset[str], now: int) -> bool:
        """Remembered consent: the same or a narrower request needs no new approval."""
        return self.live(now) and scopes <= frozenset(self.scopes)


@dataclass(frozen=True)
class AuthorizationCode:
    code_hash: str
    client_id: str
    username: str
    redirect_uri: str
    scope: tuple[str, ...]
    resource: str | None
    code_challenge: str
    nonce: str | None
    auth_time: int
    consent_id: str
    expires_at: int
    used_at: int | None = None
    issued_jtis: tuple[str, ...] = ()


@dataclass(frozen=True)
class RefreshToken:
    token_hash: str
    family_id: str
    client_id: str
    username: str
    scope: tuple[str, ...]
    resource: str | None
    consent_id: str
    auth_time: int
    issued_at: int
    expires_at: int
    used_at: int | None = None
    revoked_at: int | None = None


class ConsentLedger(Protocol):
    def find_consent(self, username: str, client_id: str, resource: str | None) -> Consent | None:
        """The newest unwithdrawn consent for this user, client and resource."""
        ...

    def get_consent(self, consent_id: str) -> Consent | None: ...

    def save_consent(self, consent: Consent, event: AuditEvent) -> None:
        """Insert or update (same ``consent_id``) the consent, with its audit event."""
        ...

    def list_consents(self, username: str | None = None, *, include_withdrawn: bool = False) -> list[Consent]: ...

    def withdraw_consent(self, consent_id: str, now: int, event: AuditEvent) -> int:
        """Withdraw it and revoke every token and refresh token issued under it, in one
        transaction with the audit event; returns how many access tokens were revoked."""
        ...


class CodeLedger(Protocol):
    def save_code(self, code: AuthorizationCode, event: AuditEvent) -> None: ...

    def get_code(self, code_hash: str) -> AuthorizationCode | None: ...

    def consume_code(self, code_hash: str, now: int, jti: str) -> bool:
        """Atomically mark the code used and note the access token issued for it; False if it
        was used already (a replay)."""
        ...

    def save_refresh_token(self, token: RefreshToken) -> None: ...

    def get_refresh_token(self, token_hash: str) -> RefreshToken | None: ...

    def rotate_refresh_token(self, old_hash: str, now: int, new: RefreshToken, jti: str) -> bool:
        """Atomically mark ``old_hash`` used, store ``new`` and note ``jti`` in its family;
        False if the old token was used or revoked meanwhile (a reuse)."""
        ...

    def revoke_family(self, family_id: str, reason: str, now: int, event: AuditEvent) -> int:
        """Revoke every refresh token of the family and every access token issued in it (and
        their descendants), with the audit event; returns how many access tokens were revoked."""
        ...
