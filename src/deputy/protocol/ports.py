"""What the protocol core needs from storage, declared next to its consumers (small Protocols).

The SQL implementation lives in :mod:`deputy.storage`; tests may use it or fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from deputy.audit import AuditEvent, AuditRecord
from deputy.jose import KeyRing, KeySet
from deputy.realm import Agent, Resource, TrustedIssuer, User


@dataclass(frozen=True)
class TokenRecord:
    """The lineage record of an issued token: enough to revoke it and everything derived from it."""

    jti: str
    subject: str
    client_id: str
    grant_type: str
    mode: str  # "user" | "delegation" | "impersonation" | "client"
    issued_at: int
    expires_at: int
    audience: tuple[str, ...] = ()
    scope: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()  # current actor first, then prior actors
    parent_jti: str | None = None
    revoked_at: int | None = None
    revoked_reason: str | None = None
    # The consent (delegation grant) a signed-in user's token came from: withdrawing it revokes
    # every token that points at it, and their descendants.
    grant_ref: str | None = None


class RealmReader(Protocol):
    def get_agent(self, client_id: str) -> Agent | None: ...
    def get_user(self, username: str) -> User | None: ...
    def get_resource(self, identifier: str) -> Resource | None: ...
    def user_entitlements(self, username: str, resource: str) -> frozenset[str]: ...


class TokenLedger(Protocol):
    def record_issuance(self, record: TokenRecord, event: AuditEvent) -> AuditRecord:
        """Store the lineage record and its audit event in one durable transaction; refuse
        (``subject_token_revoked``, nothing stored) if the parent is revoked by then."""
        ...

    async def record_issuance_async(self, record: TokenRecord, event: AuditEvent) -> AuditRecord:
        """:meth:`record_issuance` awaited on an event loop, without holding a thread."""
        ...

    def get_token(self, jti: str) -> TokenRecord | None: ...

    def ancestry(self, jti: str, *, recent: bool = False) -> list[TokenRecord]:
        """The token's record followed by its parent's, up to the root. ``recent``: may be up
        to about a second old (only for a token whose child's issuance re-checks it)."""
        ...

    def revoke(self, jti: str, reason: str, now: int, event: AuditEvent) -> int:
        """Revoke the token and every token derived from it; returns how many were revoked."""
        ...


class AuditLog(Protocol):
    def append(self, event: AuditEvent) -> AuditRecord: ...


class ReplayCache(Protocol):
    def mark_used(self, key: str, expires_at: int) -> bool:
        """Atomically record ``key``; False if it was already recorded (a replay)."""
        ...


class KeySource(Protocol):
    def key_ring(self) -> KeyRing: ...


# -- trusted external issuers (docs/trusted-issuers.md) --------------------------------------------

class KeysUnavailable(Exception):
    """An external issuer's keys could not be obtained; the message is private detail."""


class IssuerDirectory(Protocol):
    def get_trusted_issuer(self, issuer: str) -> TrustedIssuer | None: ...


class ExternalKeys(Protocol):
    def keys_for(self, issuer: TrustedIssuer, kid: str | None) -> KeySet:
        """The issuer's verification keys, fetched again (at a limited rate) when ``kid`` is not
        among the cached ones. Raises :class:`KeysUnavailable`."""
        ...


class UserProvisioner(Protocol):
    def provision_user(self, user: User, event: AuditEvent) -> User:
        """Create ``user`` (and any group it names that does not exist) with ``event`` in one
        transaction; if the user exists by then, change nothing and return the stored one."""
        ...


@dataclass(frozen=True)
class Federation:
    """What accepting subject tokens from trusted external issuers needs."""

    issuers: IssuerDirectory
    keys: ExternalKeys
    users: UserProvisioner
