"""Local user accounts: passwords (argon2id), lock-out after repeated failures, sessions."""

from __future__ import annotations

from deputy.accounts.ports import AccountLedger, Credential, Session
from deputy.accounts.service import Accounts, SignedIn, SignInFailed, csrf_token, csrf_valid

__all__ = [
    "AccountLedger",
    "Accounts",
    "Credential",
    "Session",
    "SignInFailed",
    "SignedIn",
    "csrf_token",
    "csrf_valid",
]
