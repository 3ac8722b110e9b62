"""What accounts need from storage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from deputy.audit import AuditEvent


@dataclass(frozen=True)
class Credential:
    username: str
    password_hash: str
    failed_attempts: int = 0
    locked_until: int | None = None


@dataclass(frozen=True)
class Session:
    """A signed-in browser. The cookie holds a random value; only its SHA-256 is stored."""

    session_hash: str
    username: str
    auth_time: int
    expires_at: int
    ended_at: int | None = None

    def live(self, now: int) -> bool:
        return self.ended_at is None and self.expires_at > now


class AccountLedger(Protocol):
    def get_credential(self, username: str) -> Credential | None: ...

    def set_password_hash(self, username: str, password_hash: str, now: int, event: AuditEvent | None) -> None:
        """Store a new hash, clearing failures and any lock (with the audit event, if given)."""
        ...

    def record_failure(self, username: str, now: int, max_failures: int, lock_seconds: int) -> int | None:
        """Atomically count a failed sign-in; when it reaches ``max_failures`` the account is
        locked and the counter restarts. Returns the lock's end if this failure locked it."""
        ...

    def clear_failures(self, username: str) -> None: ...

    def create_session(self, session: Session, event: AuditEvent) -> None: ...

    def get_session(self, session_hash: str) -> Session | None: ...

    def end_session(self, session_hash: str, now: int, event: AuditEvent) -> None: ...
