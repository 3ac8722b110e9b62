"""The hash chain: each record's hash covers its content and the previous record's hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from deputy.audit.events import AuditEvent, AuditRecord

GENESIS_HASH = "0" * 64


def chain_hash(prev_hash: str, seq: int, event_id: str, time: int, event: AuditEvent) -> str:
    return chain_hash_of(prev_hash, seq, event_id, time, event.to_dict())


def chain_hash_of(prev_hash: str, seq: int, event_id: str, time: int, event: Mapping[str, Any]) -> str:
    """:func:`chain_hash` of an event already turned into its dict (``AuditEvent.to_dict``)."""
    body = json.dumps(
        {"seq": seq, "id": event_id, "time": time, "event": event},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def canonical_json(event: Mapping[str, Any]) -> str:
    """The event's stored body: sorted keys, no spaces (what :func:`chain_hash_of` embeds)."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"))


def chain_hash_of_json(prev_hash: str, seq: int, event_id: str, time: int, event_json: str) -> str:
    """:func:`chain_hash_of` from the event's :func:`canonical_json`, so that the write path
    encodes each event once. The same bytes: with sorted keys the wrapper is ``event``, ``id``,
    ``seq``, ``time``, and a nested object is encoded exactly as on its own (tests/audit)."""
    body = f'{{"event":{event_json},"id":{json.dumps(event_id)},"seq":{int(seq)},"time":{int(time)}}}'
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    problem: str


def verify_chain(records: Iterable[AuditRecord]) -> tuple[int, ChainBreak | None]:
    """Walk the chain from the start. Returns (records checked, first break or None)."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    for record in records:
        count += 1
        if record.seq != expected_seq:
            return count, ChainBreak(record.seq, f"sequence gap: expected {expected_seq}")
        if record.prev_hash != expected_prev:
            return count, ChainBreak(record.seq, "previous hash does not match")
        actual = chain_hash(record.prev_hash, record.seq, record.event_id, record.time, record.event)
        if actual != record.hash:
            return count, ChainBreak(record.seq, "record content does not match its hash")
        expected_prev = record.hash
        expected_seq += 1
    return count, None
