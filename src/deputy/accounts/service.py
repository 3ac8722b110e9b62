"""Signing local users in: password check, lock-out after repeated failures, sessions, CSRF.

Every failure looks the same to the person at the keyboard (no user enumeration); the audit
trail says what it was: ``user.signin_failed`` with a reason, and ``user.locked`` when the
failures reach ``signin_max_failures`` (the account then refuses even the right password for
``signin_lockout_seconds``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from deputy.accounts.passwords import hash_password, needs_rehash, password_problem, verify_password
from deputy.accounts.ports import AccountLedger, Session
from deputy.audit import AuditEvent
from deputy.clock import Clock
from deputy.config import Settings
from deputy.errors import InvalidInput, NotFound
from deputy.protocol.ports import AuditLog, RealmReader
from deputy.protocol.sign_in_ports import opaque_hash

MAX_USERNAME = 200


class SignInFailed(Exception):
    """Sign-in refused. ``reason`` is for the audit trail and logs, never for the page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SignedIn:
    session: Session
    cookie: str  # the value to set in the browser; never stored


def csrf_token(secret: str, purpose: str) -> str:
    """A form token bound to a browser secret (the session cookie, or the sign-in form's own
    cookie): a page on another site can neither read it nor compute it."""
    digest = hmac.new(secret.encode("utf-8"), f"deputy-csrf:{purpose}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def csrf_valid(secret: str | None, purpose: str, given: str | None) -> bool:
    if not secret or not given:
        return False
    return hmac.compare_digest(csrf_token(secret, purpose).encode(), given.encode("utf-8", "replace"))


class Accounts:
    def __init__(
        self, ledger: AccountLedger, realm: RealmReader, audit: AuditLog, settings: Settings, clock: Clock
    ) -> None:
        self.ledger = ledger
        self.realm = realm
        self.audit = audit
        self.settings = settings
        self.clock = clock

    # -- passwords -------------------------------------------------------------------------------
    def set_password(self, username: str, password: str, *, admin: str | None = None) -> None:
        if self.realm.get_user(username) is None:
            raise NotFound("not_found", f"user {username}", public=f"No user {username!r}.")
        problem = password_problem(password)
        if problem is not None:
            raise InvalidInput("invalid_input", problem, public=problem[0].upper() + problem[1:] + ".")
        self.set_password_hash(username, hash_password(password), admin=admin)

    def set_password_hash(self, username: str, password_hash: str, *, admin: str | None = None) -> None:
        event = AuditEvent(type="user.password_set", subject=username, admin=admin)
        self.ledger.set_password_hash(username, password_hash, self.clock.now(), event)

    # -- sign-in ---------------------------------------------------------------------------------
    def sign_in(self, username: str, password: str, client_ip: str | None = None) -> SignedIn:
        now = self.clock.now()
        username = username.strip()[:MAX_USERNAME]
        user = self.realm.get_user(username) if username else None
        credential = self.ledger.get_credential(username) if user is not None else None
        if credential is not None and credential.locked_until is not None and credential.locked_until > now:
            self._failed(username, "account_locked", client_ip)
            raise SignInFailed("account_locked")
        matches = verify_password(credential.password_hash if credential else None, password)
        if user is None or credential is None or not matches or user.disabled:
            if user is None:
                reason = "unknown_user"
            elif credential is None:
                reason = "no_password"
            elif not matches:
                reason = "wrong_password"
            else:
                reason = "user_disabled"
            locked_until = None
            if reason == "wrong_password":
                locked_until = self.ledger.record_failure(
                    username, now, self.settings.signin_max_failures, self.settings.signin_lockout_seconds
                )
            self._failed(username, reason, client_ip)
            if locked_until is not None:
                self.audit.append(
                    AuditEvent(
                        type="user.locked", outcome="failure", subject=username, reason="too_many_failures",
                        data={"locked_until": locked_until, "client_ip": client_ip},
                    )
                )
            raise SignInFailed(reason)
        if needs_rehash(credential.password_hash):
            self.ledger.set_password_hash(username, hash_password(password), now, None)
        elif credential.failed_attempts:
            self.ledger.clear_failures(username)
        cookie = secrets.token_urlsafe(32)
        session = Session(opaque_hash(cookie), username, now, now + self.settings.session_ttl)
        self.ledger.create_session(
            session, AuditEvent(type="user.signed_in", subject=username, data={"client_ip": client_ip})
        )
        return SignedIn(session, cookie)

    def _failed(self, username: str, reason: str, client_ip: str | None) -> None:
        self.audit.append(
            AuditEvent(
                type="user.signin_failed", outcome="failure", subject=username or None, reason=reason,
                data={"client_ip": client_ip},
            )
        )

    # -- sessions --------------------------------------------------------------------------------
    def session(self, cookie: str | None) -> Session | None:
        """The live session a cookie names, if its user still exists and is enabled."""
        if not cookie or len(cookie) > 200:
            return None
        session = self.ledger.get_session(opaque_hash(cookie))
        if session is None or not session.live(self.clock.now()):
            return None
        user = self.realm.get_user(session.username)
        if user is None or user.disabled:
            return None
        return session

    def end_session(self, cookie: str | None) -> Session | None:
        session = self.session(cookie)
        if session is not None:
            event = AuditEvent(type="user.signed_out", subject=session.username)
            self.ledger.end_session(session.session_hash, self.clock.now(), event)
        return session
