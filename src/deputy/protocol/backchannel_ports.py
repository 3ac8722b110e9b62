"""What human approval (OpenID CIBA, poll mode) needs from storage (a small Protocol).

The ``auth_req_id`` the agent holds is a bearer secret: only its SHA-256 is stored. The user, the
console and the CLI name a request by its ``request_id`` instead, which grants nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from deputy.audit import AuditEvent
from deputy.protocol.sign_in_ports import Consent


class BackchannelStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    ISSUED = "issued"  # the one token was issued: the auth_req_id is spent


@dataclass(frozen=True)
class BackchannelRequest:
    request_id: str
    auth_req_hash: str
    client_id: str
    username: str
    resource: str
    scopes: tuple[str, ...]  # what the user is asked to approve (already within policy)
    binding_message: str | None
    status: BackchannelStatus
    created_at: int
    expires_at: int
    interval: int
    last_polled_at: int
    decided_at: int | None = None
    decided_by: str | None = None
    consent_id: str | None = None
    issued_jti: str | None = None

    def expired(self, now: int) -> bool:
        return now >= self.expires_at


@dataclass(frozen=True)
class Poll:
    request: BackchannelRequest  # as it was before this poll touched it
    too_fast: bool  # polled before last poll + interval: the interval has just grown


class BackchannelLedger(Protocol):
    def create_request(self, request: BackchannelRequest, event: AuditEvent) -> None:
        """Store a new pending request with its audit event in one transaction."""
        ...

    def get_request(self, request_id: str) -> BackchannelRequest | None: ...

    def list_requests(self, username: str | None = None, *, pending_at: int | None = None) -> list[BackchannelRequest]:
        """Requests, oldest first; with ``pending_at``, only those pending and unexpired then."""
        ...

    def poll(self, auth_req_hash: str, client_id: str, now: int, slow_down_step: int) -> Poll | None:
        """Atomically look the request up and, when it is this client's and pending, record the
        poll: too fast (before ``last_polled_at + interval``) grows the interval by
        ``slow_down_step``. Another client's poll changes nothing. None: no such request."""
        ...

    def decide(
        self, request_id: str, approve: bool, by: str, now: int, consent: Consent | None, event: AuditEvent
    ) -> BackchannelRequest | None:
        """Compare-and-set a pending, unexpired request to approved or denied, saving the consent
        an approval creates and the audit event in the same transaction. None if it was not
        pending (decided before, or expired)."""
        ...

    def mark_issued(self, request_id: str, jti: str, now: int) -> bool:
        """Compare-and-set approved -> issued; False if another poll got there first."""
        ...
