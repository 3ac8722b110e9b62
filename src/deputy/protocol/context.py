"""Everything a grant or endpoint needs, wired once at start-up (no globals, no mutable state)."""

from __future__ import annotations

from dataclasses import dataclass

from deputy.clock import Clock
from deputy.config import Settings
from deputy.protocol.chaining_ports import IdentityChaining
from deputy.protocol.ports import AuditLog, Federation, KeySource, RealmReader, ReplayCache, TokenLedger


@dataclass(frozen=True)
class ServerContext:
    settings: Settings
    realm: RealmReader
    tokens: TokenLedger
    audit: AuditLog
    replay: ReplayCache
    keys: KeySource
    clock: Clock
    # Subject tokens from trusted external issuers; None: only Deputy's own tokens are accepted.
    federation: Federation | None = None
    # ID-JAGs for partner authorization servers (docs/dialects.md); None: not issued.
    chaining: IdentityChaining | None = None

    @property
    def issuer(self) -> str:
        return self.settings.issuer
