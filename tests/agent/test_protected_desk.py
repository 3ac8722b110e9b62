"""``DownstreamAuth`` against the incident desk of tests/resource/test_end_to_end.py: a Starlette
API protected by ``deputy.resource`` that introspects on writes. When Deputy revokes the agent's
token, the desk answers 401 invalid_token; the auth drops that token, exchanges jane's token
again and the write goes through, without the tool noticing.
"""

from __future__ import annotations

import httpx

from deputy.agent import (
    ClientSecret,
    CredentialProvider,
    DownstreamAuth,
    TokenBroker,
    TokenExchange,
    user_token,
)
from deputy.runtime import Deputy
from tests.conftest import AGENT, INCIDENTS
from tests.resource.test_end_to_end import world  # noqa: F401 - the fixture


def test_refresh_after_revocation(deputy: Deputy, world: tuple[str, str]) -> None:  # noqa: F811
    base, desk = world
    broker = TokenBroker([CredentialProvider(
        name="desk", flow=TokenExchange(), client=ClientSecret(*AGENT), issuer=base,
        resource=INCIDENTS, scopes=("incidents:read", "incidents:write"),
    )])
    jane = deputy.admin("test").issue_user_token("jane", "incident-agent")
    with user_token(jane), httpx.Client(auth=DownstreamAuth(broker, "desk"), base_url=desk) as api:
        first = api.patch("/api/now/table/incident/1")
        assert first.status_code == 200, first.text
        assert first.json()["caller"]["user"] == "jane" and first.json()["caller"]["agent"] == "incident-agent"
        held = broker.get_token("desk")
        assert httpx.post(f"{base}/revoke", data={"token": held.value}, auth=AGENT).status_code == 200

        second = api.patch("/api/now/table/incident/1")
        assert second.status_code == 200, second.text
        assert broker.get_token("desk").fingerprint != held.fingerprint
