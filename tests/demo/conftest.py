"""A running demo stack (Deputy, the incident desk, the agent) on 127.0.0.1, stopped after each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deputy.demo.signin import sign_in
from deputy.demo.stack import AGENT_CLIENT, PASSWORDS, REDIRECT_URI, DemoStack


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[DemoStack]:
    running = DemoStack.start(tmp_path / "home")
    try:
        yield running
    finally:
        running.stop()


def user_token(stack: DemoStack, username: str) -> str:
    """The user's access token for the agent, by the real sign-in (authorization code + PKCE)."""
    return sign_in(stack.issuer, username, PASSWORDS[username], client_id=AGENT_CLIENT[0],
                   client_secret=AGENT_CLIENT[1], redirect_uri=REDIRECT_URI).access_token
