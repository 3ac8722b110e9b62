"""Each flow of the agent SDK against a real Deputy over HTTP.

RFC 8693 delegation (with and without an actor token), client credentials, Entra-style
on-behalf-of, errors that say what the server said; the vault's single flight counted in
Deputy's own audit trail, for threads and for asyncio.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from deputy.agent import (
    ActorToken,
    ClientCredentials,
    ClientSecret,
    CredentialProvider,
    Flow,
    OnBehalfOf,
    TokenBroker,
    TokenExchange,
    TokenRequestFailed,
    user_token,
)
from deputy.constants import AUTH_CLIENT_SECRET_POST, TOKEN_TYPE_ACCESS_TOKEN
from deputy.jose import peek_claims
from deputy.runtime import Deputy
from tests.agent.support import issued
from tests.conftest import AGENT, INCIDENTS


def _peek(token: str) -> dict[str, Any]:
    """The claims of a token Deputy just issued (its signature is the resource SDK's business)."""
    return dict(peek_claims(token)[1])


def desk(base: str, flow: Flow | None = None) -> CredentialProvider:
    """The incident desk through RFC 8693 delegation, its token endpoint found by discovery."""
    return CredentialProvider(
        name="incident-desk", flow=flow or TokenExchange(), client=ClientSecret(*AGENT), issuer=base,
        resource=INCIDENTS, scopes=("incidents:read",),
    )


def test_delegation_with_discovery(deputy: Deputy, base: str) -> None:
    broker = TokenBroker([desk(base)])
    jane = deputy.admin("test").issue_user_token("jane", "incident-agent")
    with user_token(jane):
        token = broker.get_token("incident-desk")
    claims = _peek(token.value)
    assert claims["sub"] == "jane" and claims["aud"] == INCIDENTS
    assert claims["act"]["sub"] == "incident-agent"
    assert claims["scope"] == "incidents:read"
    assert token.scopes == {"incidents:read"} and token.token_type == "Bearer"
    assert token.issued_token_type == TOKEN_TYPE_ACCESS_TOKEN


def test_delegation_with_an_actor_token_from_client_credentials(deputy: Deputy, base: str) -> None:
    """The actor token is the agent's own client-credentials token, itself from the broker."""
    broker = TokenBroker()
    broker.add(CredentialProvider(
        name="self", flow=ClientCredentials(), client=ClientSecret(*AGENT, method=AUTH_CLIENT_SECRET_POST),
        token_endpoint=f"{base}/token", resource=INCIDENTS, scopes=("incidents:read",),
    ))
    actor = ActorToken(getter=lambda: broker.get_token("self").value, token_type=TOKEN_TYPE_ACCESS_TOKEN)
    broker.add(desk(base, TokenExchange(actor=actor)))
    jane = deputy.admin("test").issue_user_token("jane", "incident-agent")
    token = broker.get_token("incident-desk", user_token=jane)
    assert _peek(token.value)["sub"] == "jane"
    exchange = [e for e in issued(base) if e["grant_type"].endswith("token-exchange")]
    assert exchange[-1]["data"]["actor_token"] is True


def test_client_credentials(base: str) -> None:
    broker = TokenBroker([CredentialProvider(
        name="desk-m2m", flow=ClientCredentials(), client=ClientSecret(*AGENT, method=AUTH_CLIENT_SECRET_POST),
        token_endpoint=f"{base}/token", resource=INCIDENTS, scopes=("incidents:read",),
    )])
    token = broker.get_token("desk-m2m")  # no user needed
    claims = _peek(token.value)
    assert claims["sub"] == "incident-agent" and claims["aud"] == INCIDENTS
    assert broker.get_token("desk-m2m") is token  # from the vault


def test_entra_style_on_behalf_of(deputy: Deputy, base: str) -> None:
    broker = TokenBroker([CredentialProvider(
        name="snow", flow=OnBehalfOf(), client=ClientSecret(*AGENT, method=AUTH_CLIENT_SECRET_POST),
        issuer=base, scopes=(f"{INCIDENTS}/.default",),
    )])
    jane = deputy.admin("test").issue_user_token("jane", "incident-agent")
    with user_token(jane):
        token = broker.get_token("snow")
    claims = _peek(token.value)
    assert claims["sub"] == "jane" and claims["aud"] == INCIDENTS
    assert claims["act"]["sub"] == "incident-agent"

    # A token for another app: refused, and the error says who, how, and what the server said.
    other = deputy.admin("test").issue_user_token("jane", "triage-agent")
    with pytest.raises(TokenRequestFailed) as refused:
        broker.get_token("snow", user_token=other)
    error = refused.value
    assert (error.provider, error.flow, error.status, error.error) == ("snow", "on_behalf_of", 400, "invalid_grant")
    assert error.description and "snow" in str(error) and "invalid_grant" in str(error)
    assert other not in str(error) and other not in repr(error.args)


def test_refusals_are_actionable_and_never_hold_a_token(
    deputy: Deputy, base: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    broker = TokenBroker([CredentialProvider(
        name="hr", flow=TokenExchange(), client=ClientSecret(*AGENT), token_endpoint=f"{base}/token",
        resource="https://nowhere.example",
    ), CredentialProvider(
        name="wrong-secret", flow=TokenExchange(), client=ClientSecret("incident-agent", "nope"),
        token_endpoint=f"{base}/token", resource=INCIDENTS,
    )])
    jane = deputy.admin("test").issue_user_token("jane", "incident-agent")
    with user_token(jane):
        with pytest.raises(TokenRequestFailed) as target:
            broker.get_token("hr")
        with pytest.raises(TokenRequestFailed) as client:
            broker.get_token("wrong-secret")
    assert target.value.error == "invalid_target" and target.value.flow == "token_exchange"
    assert client.value.error == "invalid_client" and client.value.status == 401
    for text in (str(target.value), str(client.value), caplog.text):
        assert jane not in text and "incident-agent-dev-secret" not in text


def test_unreachable_server_is_reported_without_a_status() -> None:
    from tests.e2e.server import free_port

    broker = TokenBroker([CredentialProvider(
        name="down", flow=ClientCredentials(), client=ClientSecret(*AGENT),
        token_endpoint=f"http://127.0.0.1:{free_port()}/token",
    )])
    with pytest.raises(TokenRequestFailed) as down:
        broker.get_token("down")
    assert down.value.status is None and "no answer" in str(down.value) and "ConnectError" in str(down.value)


def test_one_exchange_for_concurrent_threads(deputy: Deputy, base: str) -> None:
    broker = TokenBroker([desk(base)])
    jane = deputy.admin("test").issue_user_token("jane", "incident-agent")
    before = len(issued(base))
    start = threading.Barrier(8)
    results: list[str] = []

    def tool() -> None:
        with user_token(jane):
            start.wait()
            results.append(broker.get_token("incident-desk").fingerprint)

    threads = [threading.Thread(target=tool) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 8 and len(set(results)) == 1
    assert len(issued(base)) == before + 1  # Deputy's audit trail saw exactly one exchange


def test_one_exchange_for_concurrent_tasks(deputy: Deputy, base: str) -> None:
    broker = TokenBroker([desk(base)])
    jane = deputy.admin("test").issue_user_token("jane", "incident-agent")
    bob = deputy.admin("test").issue_user_token("bob", "incident-agent")
    before = len(issued(base))

    async def main() -> list[str]:
        async def tool(token: str) -> str:
            with user_token(token):
                return (await broker.aget_token("incident-desk")).fingerprint

        return await asyncio.gather(*(tool(jane) for _ in range(10)), *(tool(bob) for _ in range(10)))

    results = asyncio.run(main())
    assert len(set(results[:10])) == 1 and len(set(results[10:])) == 1 and results[0] != results[10]
    assert len(issued(base)) == before + 2  # one per user
