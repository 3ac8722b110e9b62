"""The audit trail: typed events named ``<entity>.<verb>``, hash-chained so tampering shows."""

from __future__ import annotations

from deputy.audit.chain import GENESIS_HASH, ChainBreak, chain_hash, verify_chain
from deputy.audit.events import AuditEvent, AuditRecord

__all__ = ["GENESIS_HASH", "AuditEvent", "AuditRecord", "ChainBreak", "chain_hash", "verify_chain"]
