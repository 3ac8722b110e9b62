"""Hundreds of token exchanges at once: every one issued, lineaged and audited exactly once."""

from __future__ import annotations

import base64
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select

from deputy.audit import verify_chain
from deputy.errors import OAuthError
from deputy.protocol.introspection import introspect
from deputy.protocol.response import Response
from deputy.runtime import Deputy
from deputy.storage.audit_store import AuditFilter
from deputy.storage.schema import audit_events, tokens
from tests.conftest import ACCESS_TOKEN_TYPE, AGENT, INCIDENTS, TOKEN_EXCHANGE
from tests.helpers import form

EXCHANGES = 300
REFUSALS = 40
THREADS = 16


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data


def test_parallel_exchanges(any_deputy: Deputy) -> None:
    deputy = any_deputy
    admin = deputy.admin()
    subjects = [admin.issue_user_token(user, AGENT[0], ["incidents:read"]) for user in ("jane", "bob") * 15]
    parents = {_claims(t)["jti"]: _claims(t)["sub"] for t in subjects}
    audit_before = deputy.store.audit.count()

    def exchange(i: int) -> Response | OAuthError:
        subject = subjects[i % len(subjects)] if i < EXCHANGES else f"garbage-{i}"
        request = form({"grant_type": TOKEN_EXCHANGE, "subject_token": subject,
                        "subject_token_type": ACCESS_TOKEN_TYPE, "resource": INCIDENTS}, AGENT)
        try:
            return deputy.token.handle(request)
        except OAuthError as error:
            return error

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(exchange, range(EXCHANGES + REFUSALS)))

    issued, refused = results[:EXCHANGES], results[EXCHANGES:]
    failures = [r for r in issued if not isinstance(r, Response) or r.status != 200]
    assert not failures, failures[:3]
    assert all(isinstance(r, OAuthError) and r.reason == "subject_token_invalid" for r in refused), refused[:3]

    claims = [_claims(r.body["access_token"]) for r in issued if isinstance(r, Response)]
    jtis = [c["jti"] for c in claims]
    assert len(set(jtis)) == EXCHANGES  # no duplicate token ids
    for c in claims:
        assert c["sub"] == parents_sub(parents, c, deputy)
        assert c["act"]["sub"] == AGENT[0]

    # Exactly one lineage record per issued token, each pointing at its subject token.
    with deputy.store.db.read() as conn:
        rows = conn.execute(select(tokens.c.jti, tokens.c.parent_jti).where(tokens.c.jti.in_(jtis))).all()
        total_tokens = conn.execute(select(func.count()).select_from(tokens)).scalar_one()
    assert Counter(r.jti for r in rows) == Counter(jtis)
    assert all(r.parent_jti in parents for r in rows)
    assert total_tokens == EXCHANGES + len(subjects)

    # Exactly one token.issued audit event per issued token, and one refusal per refusal.
    issued_events = Counter(r.event.jti for r in deputy.store.audit.records(AuditFilter(type="token.issued"))
                            if r.event.parent_jti is not None)
    assert issued_events == Counter(jtis)
    refusal_events = list(deputy.store.audit.records(AuditFilter(type="token.refused")))
    assert len(refusal_events) == REFUSALS

    # The chain is gap-free, ordered and intact.
    assert deputy.store.audit.count() == audit_before + EXCHANGES + REFUSALS
    with deputy.store.db.read() as conn:
        seqs = [s for (s,) in conn.execute(select(audit_events.c.seq).order_by(audit_events.c.seq))]
    assert seqs == list(range(1, len(seqs) + 1))
    count, broken = verify_chain(deputy.store.audit.records())
    assert broken is None, broken
    assert count == len(seqs)


def parents_sub(parents: dict[str, str], claims: dict[str, Any], deputy: Deputy) -> str:
    record = deputy.store.tokens.get_token(claims["jti"])
    assert record is not None and record.parent_jti is not None
    return parents[record.parent_jti]


def test_parallel_exchanges_and_revocations(any_deputy: Deputy) -> None:
    """Revoking subject tokens while they are being exchanged: whatever won the race, nothing
    derived from a revoked token stays live, and the chain stays intact."""
    deputy = any_deputy
    admin = deputy.admin()
    subjects = [admin.issue_user_token("jane", AGENT[0], ["incidents:read"]) for _ in range(20)]
    subject_jtis = [_claims(t)["jti"] for t in subjects]

    def work(i: int) -> object:
        if i % 10 == 9:
            return admin.revoke_token(subject_jtis[i % 20])
        request = form({"grant_type": TOKEN_EXCHANGE, "subject_token": subjects[i % 20],
                        "subject_token_type": ACCESS_TOKEN_TYPE, "resource": INCIDENTS}, AGENT)
        try:
            return deputy.token.handle(request)
        except OAuthError as error:
            return error

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(work, range(200)))

    for r in results:
        if isinstance(r, OAuthError):
            assert r.reason == "subject_token_revoked", r
    revoked_roots = {subject_jtis[i % 20] for i in range(200) if i % 10 == 9}
    for root in subject_jtis:
        tree = deputy.store.tokens.descendants(root)
        live = [t.jti for t in tree if t.revoked_at is None]
        if root in revoked_roots:
            # Including exchanges that read the parent before its revocation committed.
            assert not live, f"{len(live)} tokens derived from revoked {root} look live"
        else:
            assert len(live) == len(tree)
    for r in results:
        if isinstance(r, Response):
            token = r.body["access_token"]
            record = deputy.store.tokens.get_token(_claims(token)["jti"])
            assert record is not None and record.parent_jti is not None
            # The lineage check makes it inactive as well.
            expected = record.parent_jti not in revoked_roots
            assert introspect(token, deputy.context)["active"] is expected, record
    assert verify_chain(deputy.store.audit.records())[1] is None
