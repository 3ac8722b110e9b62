"""The hash-chained audit trail: every event is chained, and any change shows."""

from __future__ import annotations

from dataclasses import replace

import pytest

from deputy.audit import GENESIS_HASH, AuditEvent, AuditRecord, chain_hash, verify_chain
from deputy.errors import InvalidScope
from deputy.runtime import Deputy
from tests.protocol.support import exchange, user_token


def build_chain(events: list[AuditEvent], start_time: int = 1_800_000_000) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    prev = GENESIS_HASH
    for i, event in enumerate(events, start=1):
        event_id = f"e{i}"
        digest = chain_hash(prev, i, event_id, start_time + i, event)
        records.append(AuditRecord(i, event_id, start_time + i, event, prev, digest))
        prev = digest
    return records


EVENTS = [
    AuditEvent(type="agent.created", client_id="a1", admin="root"),
    AuditEvent(type="token.issued", client_id="a1", subject="jane", actor_chain=("a1",), audience=("https://r",),
               scope_granted=("read",), jti="j1"),
    AuditEvent(type="token.refused", outcome="failure", client_id="a1", subject="jane", error="invalid_scope",
               reason="scope_empty", detail="nothing left"),
    AuditEvent(type="token.revoked", client_id="a1", jti="j1", data={"revoked_count": 1}),
]


def test_intact_chain_verifies() -> None:
    assert verify_chain(build_chain(EVENTS)) == (4, None)


def test_empty_chain() -> None:
    assert verify_chain([]) == (0, None)


def test_chain_hash_depends_on_every_input() -> None:
    event = EVENTS[1]
    base = chain_hash(GENESIS_HASH, 1, "e1", 100, event)
    assert base == chain_hash(GENESIS_HASH, 1, "e1", 100, replace(event))  # deterministic
    variants = [
        chain_hash("1" * 64, 1, "e1", 100, event),
        chain_hash(GENESIS_HASH, 2, "e1", 100, event),
        chain_hash(GENESIS_HASH, 1, "e2", 100, event),
        chain_hash(GENESIS_HASH, 1, "e1", 101, event),
        chain_hash(GENESIS_HASH, 1, "e1", 100, replace(event, subject="bob")),
        chain_hash(GENESIS_HASH, 1, "e1", 100, replace(event, scope_granted=("read", "write"))),
        chain_hash(GENESIS_HASH, 1, "e1", 100, replace(event, data={"x": 1})),
    ]
    assert base not in variants
    assert len(set(variants)) == len(variants)


def test_edited_event_is_detected() -> None:
    records = build_chain(EVENTS)
    records[1] = replace(records[1], event=replace(records[1].event, subject="bob"))
    count, problem = verify_chain(records)
    assert problem is not None
    assert problem.seq == 2
    assert "content" in problem.problem
    assert count == 2  # stops at the first break


def test_edited_event_with_recomputed_hash_breaks_the_next_link() -> None:
    records = build_chain(EVENTS)
    forged_event = replace(records[1].event, scope_granted=("read", "write", "admin"))
    forged_hash = chain_hash(records[1].prev_hash, 2, records[1].event_id, records[1].time, forged_event)
    records[1] = replace(records[1], event=forged_event, hash=forged_hash)
    _, problem = verify_chain(records)
    assert problem is not None and problem.seq == 3
    assert "previous hash" in problem.problem


def test_edited_time_is_detected() -> None:
    records = build_chain(EVENTS)
    records[2] = replace(records[2], time=records[2].time - 3600)
    _, problem = verify_chain(records)
    assert problem is not None and problem.seq == 3


def test_deleted_record_is_detected() -> None:
    records = build_chain(EVENTS)
    del records[1]
    _, problem = verify_chain(records)
    assert problem is not None and problem.seq == 3
    assert "sequence gap" in problem.problem


def test_deleted_head_is_detected() -> None:
    records = build_chain(EVENTS)[1:]
    _, problem = verify_chain(records)
    assert problem is not None and problem.seq == 2


def test_truncated_first_record_with_renumbering_is_detected() -> None:
    """Renumbering after a deletion still fails: the first record must chain to genesis."""
    records = build_chain(EVENTS)[1:]
    records = [replace(r, seq=i) for i, r in enumerate(records, start=1)]
    _, problem = verify_chain(records)
    assert problem is not None and problem.seq == 1


def test_reordered_records_are_detected() -> None:
    records = build_chain(EVENTS)
    records[1], records[2] = records[2], records[1]
    _, problem = verify_chain(records)
    assert problem is not None and problem.seq == 3


def test_event_round_trips_through_dict() -> None:
    for event in EVENTS:
        raw = event.to_dict()
        assert isinstance(raw["actor_chain"], list)
        assert AuditEvent.from_dict(raw) == event


def test_event_from_dict_restores_tuples() -> None:
    event = AuditEvent.from_dict({"type": "x", "actor_chain": ["a", "b"], "scope_requested": ["r"], "audience": None})
    assert event.actor_chain == ("a", "b")
    assert event.audience == ()
    assert event.scope_requested == ("r",)
    assert event.scope_granted is None


# -- the trail a running Deputy writes ------------------------------------------------------------

def test_store_trail_verifies(deputy: Deputy) -> None:
    subject = user_token(deputy)
    exchange(deputy, subject)
    with pytest.raises(InvalidScope):
        exchange(deputy, subject, scope="hr:read")
    records = list(deputy.store.audit.records())
    count, problem = verify_chain(records)
    assert problem is None
    assert count == len(records) == deputy.store.audit.count()
    assert records[0].prev_hash == GENESIS_HASH
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    types = [r.event.type for r in records]
    assert types[-3:] == ["token.issued", "token.issued", "token.refused"]


def test_trail_holds_token_ids_never_tokens(deputy: Deputy) -> None:
    subject = user_token(deputy)
    token = exchange(deputy, subject).body["access_token"]
    with pytest.raises(InvalidScope):
        exchange(deputy, subject, scope="hr:read")
    for record in deputy.store.audit.records():
        text = repr(record.event.to_dict())
        for secret in (subject, token, subject.split(".")[2], token.split(".")[2]):
            assert secret not in text


def test_refusal_detail_is_in_the_audit_event(deputy: Deputy) -> None:
    with pytest.raises(InvalidScope) as exc:
        exchange(deputy, user_token(deputy), scope="hr:read")
    refused = [r.event for r in deputy.store.audit.records() if r.event.type == "token.refused"][-1]
    assert refused.detail == exc.value.detail
    assert refused.detail and "requested=['hr:read']" in refused.detail
    assert exc.value.description == "None of the requested scopes can be granted."
    assert "hr:read" not in exc.value.description  # the public text is fixed


def test_to_dict_fast_path_matches_asdict() -> None:
    from dataclasses import asdict

    flat = AuditEvent(type="token.issued", client_id="a", actor_chain=("a", "b"), audience=("x",),
                      scope_granted=("r", "w"), data={"client_auth": "basic", "actor_token": False, "n": 1})
    nested = AuditEvent(type="token.issued", data={"issuer": {"iss": "https://idp", "groups": ("g",)}})
    for event in (flat, nested):
        slow = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(event).items()}
        assert event.to_dict() == slow
        assert list(event.to_dict()) == list(slow)
    copied = flat.to_dict()
    copied["data"]["n"] = 2
    assert flat.data["n"] == 1  # the result never aliases the event's own data


def test_chain_hash_from_canonical_json_is_the_same_hash() -> None:
    from deputy.audit.chain import canonical_json, chain_hash_of, chain_hash_of_json

    events = [
        AuditEvent(type="token.issued", client_id="a", actor_chain=("a", "b"), audience=("x",),
                   data={"client_auth": "basic", "zeta": [1, 2], "alpha": {"b": 1, "a": "é\u2028"}}),
        AuditEvent(type="user.saved", subject='quote " and \\ backslash', data={}),
    ]
    for seq, event in enumerate(events, start=1):
        as_dict = event.to_dict()
        for event_id in ("0" * 32, 'id "quoted"'):
            assert chain_hash_of_json(GENESIS_HASH, seq, event_id, 1_700_000_000 + seq, canonical_json(as_dict)) \
                == chain_hash_of(GENESIS_HASH, seq, event_id, 1_700_000_000 + seq, as_dict)
