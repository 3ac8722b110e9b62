"""User federation (3-legged, authorization code + PKCE) against Deputy's own sign-in.

The first call raises AuthorizationRequired with the URL to show; "the user" approves in a
browser (driven here over HTTP); the callback completes; the token is then the vault's, and when
it runs out the refresh token gets a new one without the user. A state is good once.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from deputy.agent import (
    AuthorizationRequired,
    ClientSecret,
    CredentialProvider,
    TokenBroker,
    TokenRequestFailed,
    TokenVault,
    UserFederation,
    requires_access_token,
    user_token,
)
from deputy.clock import FixedClock
from deputy.jose import peek_claims
from deputy.runtime import Deputy
from tests.agent.support import issued
from tests.conftest import AGENT, INCIDENTS
from tests.e2e.browser import REDIRECT, _action, _field


def approve(url: str, username: str, password: str) -> dict[str, str]:
    """The user's browser: sign in at the authorization URL, allow, and return the callback's query."""
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        page = browser.get(url)
        assert page.status_code == 200 and 'name="password"' in page.text, page.text[:500]
        consent = browser.post(_action(page), data={
            "csrf_token": _field(page, "csrf_token"), "authorize": _field(page, "authorize"),
            "username": username, "password": password,
        })
        answer = consent
        if consent.status_code != 303:
            answer = browser.post(_action(consent), data={
                "csrf_token": _field(consent, "csrf_token"), "authorize": _field(consent, "authorize"),
                "decision": "approve",
            })
        assert answer.status_code == 303, answer.text[:500]
    location = answer.headers["location"]
    assert location.startswith(REDIRECT)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_authorize_complete_reuse_refresh(deputy: Deputy, base: str) -> None:
    clock = FixedClock(int(time.time()))
    provider = CredentialProvider(
        name="desk", flow=UserFederation(REDIRECT), client=ClientSecret(*AGENT), issuer=base,
        resource=INCIDENTS, scopes=("incidents:read",),
    )
    broker = TokenBroker([provider], vault=TokenVault(clock=clock.now))
    shown: list[str] = []

    @requires_access_token(provider="desk", broker=broker, on_auth_url=shown.append)
    def query_incidents(access_token: str = "") -> str:
        return str(peek_claims(access_token)[1]["sub"])

    jane_session = deputy.admin("test").issue_user_token("jane", "incident-agent")
    with user_token(jane_session, issuer=base, subject="jane"), pytest.raises(AuthorizationRequired) as needed:
        query_incidents()
    url = needed.value.authorization_url
    assert shown == [url] and needed.value.provider == "desk"
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["resource"] == [INCIDENTS]
    assert query["client_id"] == ["incident-agent"] and query["state"] == [needed.value.state]

    callback = approve(url, "jane", "jane-dev-password")
    assert callback["state"] == needed.value.state
    first = broker.complete_authorization("desk", code=callback["code"], state=callback["state"])
    assert first.refresh_token is not None and first.refresh_token not in repr(first)
    with pytest.raises(TokenRequestFailed) as replay:  # a state is good once
        broker.complete_authorization("desk", code=callback["code"], state=callback["state"])
    assert replay.value.error == "invalid_state"

    before = len(issued(base))
    with user_token(jane_session, issuer=base, subject="jane"):
        assert query_incidents() == "jane"  # from the vault
        assert len(issued(base)) == before
        clock.advance(first.expires_at - clock.now())  # expired: refreshed without the user
        assert query_incidents() == "jane"
    refreshed = issued(base)[before:]
    assert [e["grant_type"] for e in refreshed] == ["refresh_token"]

    # Bob never approved: his call asks for his approval, never hands him jane's token.
    bob_session = deputy.admin("test").issue_user_token("bob", "incident-agent")
    with user_token(bob_session, issuer=base, subject="bob"), pytest.raises(AuthorizationRequired):
        query_incidents()


def test_async_completion_and_a_refused_refresh_asks_again() -> None:
    """With a mock AS: acomplete_authorization, then a refresh refused with invalid_grant means
    the user is asked again (a new URL), and nothing stale is handed out."""
    from deputy.agent import UserFederation as Flow

    token_url = "https://as.example/token"
    answers = iter([
        httpx.Response(200, json={"access_token": "a1", "token_type": "Bearer", "expires_in": 60,
                                  "refresh_token": "r1"}),
        httpx.Response(400, json={"error": "invalid_grant", "error_description": "refresh token revoked"}),
    ])
    forms: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        forms.append(request.content.decode())
        return next(answers)

    clock = FixedClock(int(time.time()))
    transport = httpx.MockTransport(handler)
    broker = TokenBroker(
        [CredentialProvider(name="gh", flow=Flow("https://agent.example/cb",
                                                  authorization_endpoint="https://as.example/authorize"),
                            client=ClientSecret("agent", "s"), token_endpoint=token_url, scopes=("repo",))],
        vault=TokenVault(clock=clock.now), async_http_client=httpx.AsyncClient(transport=transport),
    )

    async def main() -> None:
        with user_token("jane-session", issuer="https://idp.example", subject="jane"):
            with pytest.raises(AuthorizationRequired) as needed:
                await broker.aget_token("gh")
            assert needed.value.authorization_url.startswith("https://as.example/authorize?")
            token = await broker.acomplete_authorization("gh", code="c1", state=needed.value.state)
            assert token.value == "a1" and (await broker.aget_token("gh")) is token
            clock.advance(60)
            with pytest.raises(AuthorizationRequired) as again:
                await broker.aget_token("gh")
            assert again.value.state != needed.value.state

    asyncio.run(main())
    assert "code_verifier=" in forms[0] and "grant_type=refresh_token" in forms[1] and "refresh_token=r1" in forms[1]
