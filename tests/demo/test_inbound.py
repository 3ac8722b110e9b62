"""Who counts as a user at the agent's front door (without HTTP; test_agent.py does it over HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from deputy.demo.agent.inbound import is_user_principal
from deputy.resource import Principal

BASE = {"iss": "http://127.0.0.1:8000", "aud": "incident-agent", "jti": "j", "exp": 2, "iat": 1}


def principal(**claims: Any) -> Principal:
    return Principal.from_claims({**BASE, **claims})


@pytest.mark.parametrize(("claims", "is_user"), [
    ({"sub": "jane", "client_id": "incident-agent", "sub_profile": "user"}, True),
    ({"sub": "jane", "client_id": "incident-agent"}, True),  # another issuer's user token, no sub_profile
    ({"sub": "jane", "client_id": "triage-agent", "act": {"sub": "incident-agent"}}, True),
    ({"sub": "nightly-report", "client_id": "nightly-report"}, False),  # client credentials
    ({"sub": "incident-agent", "client_id": "incident-agent", "act": {"sub": "x"}}, False),
    ({"sub": "svc-7", "client_id": "incident-agent", "sub_profile": "ai_agent"}, False),
])
def test_only_users(claims: dict[str, Any], is_user: bool) -> None:
    assert is_user_principal(principal(**claims)) is is_user
