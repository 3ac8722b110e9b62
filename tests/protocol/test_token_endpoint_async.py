"""The token endpoint on an event loop (``handle_async``, what the HTTP server runs): the grant in
a thread, the durable write awaited through the store's async group commit; the same answers and
the same audit trail as the blocking ``handle``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from sqlalchemy import text

from deputy.errors import InvalidClient, InvalidRequest, OAuthError, ServerError
from deputy.protocol.response import Response
from deputy.runtime import Deputy
from tests.conftest import AGENT
from tests.helpers import form
from tests.protocol.support import claims_of, events, exchange_params, user_token

T = TypeVar("T")


async def _in_thread(fn: Callable[[], T]) -> T:
    return await asyncio.to_thread(fn)


def _exchange_async(deputy: Deputy, subject: str, count: int = 1, **params: Any) -> list[Response | OAuthError]:
    async def one() -> Response | OAuthError:
        try:
            return await deputy.token.handle_async(form(exchange_params(subject, **params), AGENT), _in_thread)
        except OAuthError as error:
            return error

    async def main() -> list[Response | OAuthError]:
        return list(await asyncio.gather(*(one() for _ in range(count))))

    return asyncio.run(main())


def test_concurrent_exchanges_are_each_issued_recorded_and_audited(deputy: Deputy) -> None:
    subject = user_token(deputy)
    before = len(events(deputy, "token.issued"))
    answers = _exchange_async(deputy, subject, count=24)
    assert all(isinstance(a, Response) and a.status == 200 for a in answers)
    jtis = {claims_of(a.body["access_token"])["jti"] for a in answers if isinstance(a, Response)}
    assert len(jtis) == 24
    for jti in jtis:  # every 200 has its lineage record and its audit event
        record = deputy.store.tokens.get_token(jti)
        assert record is not None and record.parent_jti == claims_of(subject)["jti"]
    issued = events(deputy, "token.issued")
    assert len(issued) == before + 24 and {e.jti for e in issued[before:]} == jtis


def test_a_refusal_by_the_grant_is_audited_and_raised(deputy: Deputy) -> None:
    [answer] = _exchange_async(deputy, "not-a-token")
    assert isinstance(answer, InvalidRequest) and answer.reason == "subject_token_invalid"
    assert events(deputy, "token.refused")[-1].reason == "subject_token_invalid"

    async def bad_client() -> None:
        await deputy.token.handle_async(form(exchange_params("x"), ("incident-agent", "wrong")), _in_thread)

    with pytest.raises(InvalidClient):
        asyncio.run(bad_client())


def test_a_parent_revoked_before_the_write_commits_is_refused_at_the_write_and_audited(deputy: Deputy) -> None:
    subject = user_token(deputy)
    _exchange_async(deputy, subject)  # the subject token's lineage is now in the recent-lineage cache
    with deputy.store.db.write() as conn:  # revoked by "another process": this cache is not told
        conn.execute(text("UPDATE tokens SET revoked_at = 1, revoked_reason = 'x' WHERE jti = :j"),
                     {"j": claims_of(subject)["jti"]})
    issued = len(events(deputy, "token.issued"))
    [answer] = _exchange_async(deputy, subject)
    assert isinstance(answer, InvalidRequest) and answer.reason == "subject_token_revoked"
    assert len(events(deputy, "token.issued")) == issued
    refused = events(deputy, "token.refused")[-1]
    assert refused.reason == "subject_token_revoked" and refused.parent_jti == claims_of(subject)["jti"]


def test_an_unexpected_failure_of_the_write_is_a_server_error_never_the_detail(
    deputy: Deputy, monkeypatch: pytest.MonkeyPatch
) -> None:
    subject = user_token(deputy)

    def broken(items: object) -> list[object]:
        raise RuntimeError("disk on fire at /var/lib/secret")

    async def broken_async(writer: object, items: object) -> list[object]:
        return broken(items)

    monkeypatch.setattr(deputy.store.tokens, "_record_issuances", broken)  # SQLite: the writer thread's
    monkeypatch.setattr(deputy.store.tokens, "_record_issuances_pg_async", broken_async)  # PostgreSQL's
    [answer] = _exchange_async(deputy, subject)
    assert isinstance(answer, ServerError)
    assert "fire" not in (answer.description or "")  # the public description is fixed
    refused = events(deputy, "token.refused")[-1]
    assert refused.error == "server_error" and "RuntimeError" in (refused.detail or "")
