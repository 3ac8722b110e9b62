"""A real Deputy (the development realm, served by uvicorn on 127.0.0.1) for the desk's HTTP tests,
one per module, and the delegated tokens it issues: jane and bob through incident-agent, and jane
through incident-agent then triage-agent (a nested ``act`` chain)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from deputy.admin.realm_file import load_realm, read_realm_file
from deputy.clock import FixedClock
from deputy.config import Settings
from deputy.resource import TokenVerifier
from deputy.resource.asgi import ProtectedResource
from deputy.runtime import Deputy
from tests.conftest import (
    ACCESS_TOKEN_TYPE,
    ADMIN_TOKEN,
    AGENT,
    DEV_REALM,
    INCIDENTS,
    TOKEN_EXCHANGE,
    TRIAGE,
)
from tests.e2e.server import free_port, running_server


@dataclass(frozen=True)
class Tokens:
    jane: str  # sub=jane, act={incident-agent}: incidents:read incidents:write
    jane_chain: str  # sub=jane, act={triage-agent, act={incident-agent}}: incidents:read
    bob: str  # sub=bob, act={incident-agent}: incidents:read hr:read
    bob_chain: str  # sub=bob through triage-agent: incidents:read only
    jane_user: str  # jane's own token, for incident-agent (not for the desk)


def exchange(base: str, auth: tuple[str, str], subject: str, **target: str) -> str:
    data = {"grant_type": TOKEN_EXCHANGE, "subject_token": subject, "subject_token_type": ACCESS_TOKEN_TYPE, **target}
    response = httpx.post(f"{base}/token", data=data, auth=auth)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deputy, str]]:
    port = free_port()
    settings = Settings(issuer=f"http://127.0.0.1:{port}", home=tmp_path_factory.mktemp("deputy") / "home",
                        admin_token=ADMIN_TOKEN)
    deputy = Deputy.open(settings, FixedClock(int(time.time())))
    load_realm(deputy.admin("test"), read_realm_file(DEV_REALM))
    try:
        with running_server(deputy, ADMIN_TOKEN, port) as base:
            yield deputy, base
    finally:
        deputy.close()


@pytest.fixture(scope="module")
def tokens(issuer: tuple[Deputy, str]) -> Tokens:
    deputy, base = issuer
    admin = deputy.admin("test")
    jane = admin.issue_user_token("jane", "incident-agent")
    bob = admin.issue_user_token("bob", "incident-agent")
    return Tokens(
        jane=exchange(base, AGENT, jane, resource=INCIDENTS),
        jane_chain=exchange(base, TRIAGE, exchange(base, AGENT, jane, audience="triage-agent"), resource=INCIDENTS),
        bob=exchange(base, AGENT, bob, resource=INCIDENTS),
        bob_chain=exchange(base, TRIAGE, exchange(base, AGENT, bob, audience="triage-agent"), resource=INCIDENTS),
        jane_user=jane,
    )


@pytest.fixture(scope="module")
def resource(issuer: tuple[Deputy, str]) -> ProtectedResource:
    _, base = issuer
    return ProtectedResource(
        TokenVerifier(base, INCIDENTS),
        scopes_supported=["incidents:read", "incidents:write", "hr:read"],
        resource_name="Incident desk",
    )
