"""The agent SDK's human-approval helper (deputy.agent.ciba) against a real Deputy over HTTP:
request, poll honouring interval and slow_down, sync and async, errors naming the step. Time is a
FixedClock shared with the server; the helper's sleep advances it (no real waiting)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from deputy.agent.ciba import ApprovalDenied, ApprovalExpired, BackchannelApproval, PendingApproval
from deputy.agent.client_auth import ClientSecret
from deputy.agent.errors import ConfigurationError, TokenRequestFailed
from deputy.clock import FixedClock
from deputy.http import create_app
from deputy.runtime import Deputy
from tests.conftest import ADMIN_TOKEN, AGENT, INCIDENTS
from tests.protocol.ciba_support import APPROVAL_SCOPE, require_approval
from tests.protocol.support import introspect

ASK = {"login_hint": "jane", "scopes": [APPROVAL_SCOPE], "resource": INCIDENTS, "binding_message": "Close INC-42"}


@pytest.fixture(autouse=True)
def approval_marked(deputy: Deputy) -> None:
    require_approval(deputy, APPROVAL_SCOPE)


class User:
    """Jane at her console: decides on her pending request when the agent has waited ``after`` times."""

    def __init__(self, deputy: Deputy, clock: FixedClock, approve: bool | None, after: int = 2, short: int = 0) -> None:
        self.deputy, self.clock, self.approve, self.after, self.short = deputy, clock, approve, after, short
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        # ``short``: the first wait ends early (a skewed clock): the next poll is too fast.
        self.clock.advance(int(seconds) - (self.short if len(self.waits) == 1 else 0))
        if self.approve is not None and len(self.waits) == self.after:
            for request in self.deputy.approvals.pending("jane"):
                self.deputy.approvals.decide(request.request_id, "jane", self.approve, via="console")

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


def helper(base: str, user: User, clock: FixedClock, secret: str = AGENT[1]) -> BackchannelApproval:
    return BackchannelApproval(
        base, ClientSecret(AGENT[0], secret), sleep=user.sleep, async_sleep=user.async_sleep, clock=lambda: clock.now()
    )


def test_approved_over_real_http(deputy: Deputy, clock: FixedClock, base: str) -> None:
    user = User(deputy, clock, approve=True, after=2)
    token = helper(base, user, clock).get_token(**ASK)  # type: ignore[arg-type]
    assert token.scopes == frozenset({APPROVAL_SCOPE}) and token.token_type == "Bearer"
    assert user.waits == [5, 5]  # the server's interval, between every poll
    body = introspect(deputy, token.value)
    assert body["active"] is True and body["sub"] == "jane" and body["act"]["sub"] == "incident-agent"
    assert token.value not in repr(token)


def test_slow_down_grows_the_interval(deputy: Deputy, clock: FixedClock, base: str) -> None:
    user = User(deputy, clock, approve=True, after=3, short=3)
    token = helper(base, user, clock).get_token(**ASK)  # type: ignore[arg-type]
    assert user.waits == [5, 10, 10]  # slow_down after the early poll: 5 seconds more from then on
    assert token.scopes == frozenset({APPROVAL_SCOPE})


def test_denied_names_the_step(deputy: Deputy, clock: FixedClock, base: str) -> None:
    user = User(deputy, clock, approve=False, after=1)
    with pytest.raises(ApprovalDenied) as caught:
        helper(base, user, clock).get_token(**ASK)  # type: ignore[arg-type]
    assert caught.value.step == "poll" and caught.value.error == "access_denied" and caught.value.status == 400
    assert "(ciba, poll)" in str(caught.value)


def test_expired_while_waiting(deputy: Deputy, clock: FixedClock, base: str) -> None:
    user = User(deputy, clock, approve=None)
    with pytest.raises(ApprovalExpired) as caught:
        helper(base, user, clock).get_token(**ASK, requested_expiry=30)  # type: ignore[arg-type]
    assert caught.value.error == "expired_token" and caught.value.step == "poll"
    assert sum(user.waits) >= 30


def test_refused_request_names_the_step(deputy: Deputy, clock: FixedClock, base: str) -> None:
    user = User(deputy, clock, approve=None)
    with pytest.raises(TokenRequestFailed) as caught:
        helper(base, user, clock).get_token(**{**ASK, "login_hint": "nobody"})  # type: ignore[arg-type]
    assert caught.value.step == "bc-authorize" and caught.value.error == "unknown_user_id"
    with pytest.raises(TokenRequestFailed) as bad_secret:
        helper(base, user, clock, secret="wrong").get_token(**ASK)  # type: ignore[arg-type]
    assert bad_secret.value.step == "bc-authorize" and bad_secret.value.status == 401
    assert "wrong" not in str(bad_secret.value)


def test_async_in_process(deputy: Deputy, clock: FixedClock) -> None:
    user = User(deputy, clock, approve=True, after=1)
    app = create_app(deputy, ADMIN_TOKEN)

    async def main() -> str:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
            token = await helper(deputy.settings.issuer, user, clock).get_token_async(**ASK, http=http)  # type: ignore[arg-type]
            return token.value

    value = asyncio.run(main())
    assert introspect(deputy, value)["active"] is True and user.waits == [5]


def test_unreachable_server_names_discovery(clock: FixedClock) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    ciba = BackchannelApproval("https://as.example", ClientSecret("a", "s"), sleep=lambda s: None)
    with httpx.Client(transport=httpx.MockTransport(refuse)) as http, pytest.raises(TokenRequestFailed) as caught:
        ciba.get_token(login_hint="jane", scopes=["x"], resource="https://api.example", http=http)
    assert caught.value.step == "discovery" and caught.value.status is None


def test_configuration_errors_fail_early() -> None:
    secret = ClientSecret("a", "s")
    with pytest.raises(ConfigurationError):
        BackchannelApproval(None, secret)
    with pytest.raises(ConfigurationError):
        BackchannelApproval("http://as.example", secret)  # http off loopback
    ciba = BackchannelApproval("https://as.example", secret)
    never: Callable[[httpx.Request], httpx.Response] = lambda r: httpx.Response(500)  # noqa: E731
    with httpx.Client(transport=httpx.MockTransport(never)) as http:
        with pytest.raises(ConfigurationError):
            ciba.get_token(login_hint="jane", scopes=[], resource="https://api.example", http=http)
        with pytest.raises(ConfigurationError):
            ciba.get_token(login_hint="jane", scopes=["x"], http=http)


def test_pending_approval_hides_the_auth_req_id() -> None:
    assert "secret-id" not in repr(PendingApproval("secret-id", 0.0, 5))
