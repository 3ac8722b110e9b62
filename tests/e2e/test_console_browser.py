"""The console in a real headless Chromium against a real Deputy on 127.0.0.1 (issue 7):

- an administrator suspends an agent, and the agent's next exchange is refused;
- a user approves a CIBA request, and the agent's poll returns a token;
- a user withdraws a delegation, and the agent's tokens go inactive (introspection).

The agent side runs over real HTTP with the agent SDK's helper; time is the server's FixedClock,
advanced by the helper's sleep (no real waiting, no timed assertions). Screenshots on failure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from deputy.agent.ciba import BackchannelApproval
from deputy.agent.client_auth import ClientSecret
from deputy.clock import FixedClock
from deputy.config import Settings
from deputy.runtime import Deputy
from tests.conftest import ADMIN_TOKEN, AGENT, INCIDENTS, TOKEN_EXCHANGE, ACCESS_TOKEN_TYPE
from tests.e2e.chromium import launched, screenshot_on_failure
from tests.e2e.server import free_port, running_server
from tests.http.console_support import ADMIN_USER, add_admin
from tests.protocol.ciba_support import APPROVAL_SCOPE, require_approval
from tests.protocol.support import user_token


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched() as chromium:
        yield chromium


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def settings(tmp_path: Path, port: int) -> Settings:
    return Settings(issuer=f"http://127.0.0.1:{port}", home=tmp_path / "home", admin_token=ADMIN_TOKEN)


@pytest.fixture
def base(deputy: Deputy, port: int) -> Iterator[str]:
    require_approval(deputy, APPROVAL_SCOPE)
    add_admin(deputy)
    with running_server(deputy, ADMIN_TOKEN, port) as url:
        yield url


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 768})  # a laptop screen
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Any, base: str, path: str, username: str, password: str) -> None:
    page.goto(f"{base}{path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{path}")


def introspect(base: str, token: str) -> dict[str, Any]:
    r = httpx.post(f"{base}/introspect", data={"token": token}, auth=("triage-agent", "triage-agent-dev-secret"))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def exchange(base: str, subject: str) -> httpx.Response:
    return httpx.post(f"{base}/token", auth=AGENT, data={
        "grant_type": TOKEN_EXCHANGE, "subject_token": subject, "subject_token_type": ACCESS_TOKEN_TYPE,
        "resource": INCIDENTS,
    })


def test_admin_suspends_an_agent_and_its_next_exchange_is_refused(deputy: Deputy, base: str, page: Any) -> None:
    subject = user_token(deputy)
    before = exchange(base, subject)
    assert before.status_code == 200, before.text
    with screenshot_on_failure(page, "admin_suspends_agent"):
        sign_in(page, base, "/console/agents", *ADMIN_USER)
        row = page.locator("tr#agent-incident-agent")
        assert row.locator(".status").inner_text() == "active"
        row.get_by_role("button", name="Suspend incident-agent").click()
        page.get_by_role("status").filter(has_text="Status changed.").wait_for()
        assert page.locator("tr#agent-incident-agent .status").inner_text() == "suspended"
    after = exchange(base, subject)
    assert after.status_code == 400 and after.json()["error"] == "unauthorized_client"
    assert introspect(base, before.json()["access_token"]) == {"active": False}


def test_user_approves_a_ciba_request_and_the_poll_returns_a_token(
    deputy: Deputy, clock: FixedClock, base: str, page: Any
) -> None:
    seen: list[str] = []

    def user_at_the_console(seconds: float) -> None:
        """While the agent waits, Jane opens the console and approves (with the keyboard)."""
        clock.advance(int(seconds))
        if seen:
            return
        with screenshot_on_failure(page, "user_approves_ciba"):
            sign_in(page, base, "/console/approvals", "jane", "jane-dev-password")
            card = page.locator("section.card").filter(has_text="Close incident INC-42")
            seen.append(card.locator(".binding").inner_text())
            assert APPROVAL_SCOPE in card.inner_text()
            card.get_by_role("button", name="Approve").focus()
            page.keyboard.press("Enter")
            page.get_by_role("status").filter(has_text="Approved").wait_for()
            assert "Nothing is waiting for you" in page.content()

    ciba = BackchannelApproval(base, ClientSecret(*AGENT), sleep=user_at_the_console, clock=lambda: clock.now())
    token = ciba.get_token(login_hint="jane", scopes=[APPROVAL_SCOPE], resource=INCIDENTS,
                           binding_message="Close incident INC-42")
    assert seen == ["\u201cClose incident INC-42\u201d"]
    assert token.scopes == frozenset({APPROVAL_SCOPE})
    body = introspect(base, token.value)
    assert body["active"] is True and body["sub"] == "jane" and body["act"]["sub"] == "incident-agent"


def test_user_withdraws_a_delegation_and_the_agents_token_goes_inactive(
    deputy: Deputy, clock: FixedClock, base: str, page: Any
) -> None:
    def approve_at_once(seconds: float) -> None:
        clock.advance(int(seconds))
        for request in deputy.approvals.pending("jane"):
            deputy.approvals.decide(request.request_id, "jane", True, via="test")

    ciba = BackchannelApproval(base, ClientSecret(*AGENT), sleep=approve_at_once, clock=lambda: clock.now())
    token = ciba.get_token(login_hint="jane", scopes=[APPROVAL_SCOPE, "incidents:read"], resource=INCIDENTS)
    assert introspect(base, token.value)["active"] is True
    with screenshot_on_failure(page, "user_withdraws_delegation"):
        sign_in(page, base, "/console/my-agents", "jane", "jane-dev-password")
        row = page.locator("tbody tr").filter(has_text="Incident desk")
        assert APPROVAL_SCOPE in row.inner_text()
        row.get_by_role("button", name="Withdraw").click()
        page.get_by_role("status").filter(has_text="Withdrawn").wait_for()
        assert "No agent may act for you" in page.content()
    assert introspect(base, token.value) == {"active": False}
