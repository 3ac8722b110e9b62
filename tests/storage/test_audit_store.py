"""The hash-chained audit table: appends link up, and any tampering with stored rows shows."""

from __future__ import annotations

import itertools
import json

import pytest
from sqlalchemy import delete, select, update

from deputy.audit import GENESIS_HASH, AuditEvent, chain_hash, verify_chain
from deputy.runtime import Deputy
from deputy.storage.audit_store import AuditFilter
from deputy.storage.schema import audit_events


def _append_some(deputy: Deputy, n: int = 10) -> list[int]:
    seqs = []
    for i in range(n):
        record = deputy.store.audit.append(
            AuditEvent(type="test.event", client_id=f"agent-{i % 3}", subject=f"user-{i % 2}",
                       actor_chain=(f"agent-{i % 3}", "root-agent"), audience=("https://api.example",),
                       data={"i": i})
        )
        seqs.append(record.seq)
    return seqs


def _verify(deputy: Deputy) -> tuple[int, object]:
    return verify_chain(deputy.store.audit.records())


def test_append_links_records_and_verifies(any_deputy: Deputy) -> None:
    start = any_deputy.store.audit.count()
    seqs = _append_some(any_deputy)
    assert seqs == list(range(start + 1, start + 11))
    records = list(any_deputy.store.audit.records())
    assert [r.seq for r in records] == list(range(1, start + 11))
    assert records[0].prev_hash == GENESIS_HASH
    for prev, cur in itertools.pairwise(records):
        assert cur.prev_hash == prev.hash
        assert cur.hash == chain_hash(cur.prev_hash, cur.seq, cur.event_id, cur.time, cur.event)
    assert _verify(any_deputy) == (start + 10, None)
    assert any_deputy.store.audit.count() == start + 10
    assert records[-1].event.data == {"i": 9}
    assert records[-1].event.actor_chain == ("agent-0", "root-agent")


def _break(deputy: Deputy) -> tuple[int, str]:
    _, broken = verify_chain(deputy.store.audit.records())
    assert broken is not None, "tampering went unnoticed"
    return broken.seq, broken.problem


def test_body_tampering_is_detected(any_deputy: Deputy) -> None:
    _append_some(any_deputy)
    target = any_deputy.store.audit.count() - 4
    with any_deputy.store.db.write() as conn:
        body = json.loads(conn.execute(select(audit_events.c.body).where(audit_events.c.seq == target)).scalar_one())
        body["data"]["i"] = 999
        conn.execute(update(audit_events).where(audit_events.c.seq == target).values(body=json.dumps(body)))
    assert _break(any_deputy) == (target, "record content does not match its hash")


def test_rehashing_a_tampered_row_breaks_the_next_link(any_deputy: Deputy) -> None:
    _append_some(any_deputy)
    target = any_deputy.store.audit.count() - 4
    record = next(r for r in any_deputy.store.audit.records() if r.seq == target)
    forged = AuditEvent(**{**record.event.__dict__, "subject": "nobody"})
    forged_hash = chain_hash(record.prev_hash, record.seq, record.event_id, record.time, forged)
    with any_deputy.store.db.write() as conn:
        conn.execute(
            update(audit_events).where(audit_events.c.seq == target).values(
                body=json.dumps(forged.to_dict(), sort_keys=True), subject="nobody", hash=forged_hash)
        )
    assert _break(any_deputy) == (target + 1, "previous hash does not match")


def test_deleting_a_middle_row_is_detected(any_deputy: Deputy) -> None:
    _append_some(any_deputy)
    target = any_deputy.store.audit.count() - 5
    with any_deputy.store.db.write() as conn:
        assert conn.execute(delete(audit_events).where(audit_events.c.seq == target)).rowcount == 1
    seq, problem = _break(any_deputy)
    assert seq == target + 1
    assert "sequence gap" in problem


def test_renumbering_after_a_delete_is_still_detected(any_deputy: Deputy) -> None:
    _append_some(any_deputy, 5)
    last = any_deputy.store.audit.count()
    with any_deputy.store.db.write() as conn:
        conn.execute(delete(audit_events).where(audit_events.c.seq == last - 2))
        for seq in (last - 1, last):
            conn.execute(update(audit_events).where(audit_events.c.seq == seq).values(seq=seq - 1))
    seq, problem = _break(any_deputy)
    assert seq == last - 2
    assert problem in ("previous hash does not match", "record content does not match its hash")


@pytest.mark.parametrize(
    ("column", "value"),
    [("subject", "someone-else"), ("client_id", "other-agent"), ("type", "test.hidden"), ("outcome", "failure"),
     ("actors", "|other-agent|"), ("audience", "|https://elsewhere.example|"), ("time", 1)],
)
def test_filter_column_tampering_is_detected(any_deputy: Deputy, column: str, value: object) -> None:
    """The indexed copies of event fields decide what filtered queries return; changing one to
    hide an event from ``/admin/audit?subject=...`` must not pass verification."""
    _append_some(any_deputy)
    target = any_deputy.store.audit.count() - 3
    with any_deputy.store.db.write() as conn:
        conn.execute(update(audit_events).where(audit_events.c.seq == target).values({column: value}))
    assert _break(any_deputy) == (target, "record content does not match its hash")


def test_filters(any_deputy: Deputy) -> None:
    _append_some(any_deputy)
    audit = any_deputy.store.audit
    assert {r.event.data["i"] for r in audit.records(AuditFilter(type="test.event", subject="user-1"))} == {1, 3, 5, 7, 9}
    assert {r.event.data["i"] for r in audit.records(AuditFilter(type="test.event", agent="agent-2"))} == {2, 5, 8}
    assert len(list(audit.records(AuditFilter(type="test.event", agent="root-agent")))) == 10  # any actor in the chain
    assert list(audit.records(AuditFilter(type="test.event", agent="agent"))) == []  # exact names, not substrings
    assert list(audit.records(AuditFilter(agent="%"))) == []  # LIKE wildcards are escaped
    newest = list(audit.records(AuditFilter(type="test.event", newest_first=True, limit=3)))
    assert [r.event.data["i"] for r in newest] == [9, 8, 7]
    assert len(list(audit.records(AuditFilter(type="test.event", audience="https://api.example")))) == 10


def test_an_oversized_client_id_or_subject_is_recorded_whole_and_verifies(any_deputy: Deputy) -> None:
    """A refused request may name any client id or user (a hostile client sends 5,000 characters).
    The body keeps them whole; the 200-character filter columns keep a prefix, which PostgreSQL
    needs (it enforces VARCHAR lengths; SQLite ignores them) and which still verifies."""
    client_id, subject = "a" * 5000, "é☃" * 300
    any_deputy.store.audit.append(AuditEvent(type="token.refused", outcome="failure", client_id=client_id,
                                             subject=subject, data={"reason": "client_unknown"}))
    last = list(any_deputy.store.audit.records())[-1]
    assert (last.event.client_id, last.event.subject) == (client_id, subject)
    assert _verify(any_deputy) == (any_deputy.store.audit.count(), None)
    with any_deputy.store.db.read() as conn:
        row = conn.execute(select(audit_events.c.client_id, audit_events.c.subject)
                           .where(audit_events.c.seq == last.seq)).one()
    assert (row.client_id, row.subject) == (client_id[:200], subject[:200])
    with any_deputy.store.db.write() as conn:  # the prefix is still checked against the body
        conn.execute(update(audit_events).where(audit_events.c.seq == last.seq).values(client_id="a" * 199 + "b"))
    assert _break(any_deputy)[0] == last.seq
