"""Client authentication "none": public clients, with client_id alone, for the authorization_code
and refresh_token grants only. Confidential clients sending only a client_id stay refused."""

from __future__ import annotations

import pytest

from deputy.errors import InvalidClient
from deputy.realm import Agent, AgentStatus, ResourceGrant
from deputy.runtime import Deputy
from tests.conftest import INCIDENTS
from tests.helpers import form
from tests.protocol.sign_in_support import REDIRECT, get_code, redeem, refresh
from tests.protocol.support import assert_refused, exchange_params

PUBLIC = "public-app"


@pytest.fixture
def public(deputy: Deputy) -> str:
    deputy.admin("test").create_agent(
        Agent(
            PUBLIC, status=AgentStatus.ACTIVE, redirect_uris=(REDIRECT,), public_client=True,
            subject_groups=("it",), resource_grants=(ResourceGrant(INCIDENTS, ("incidents:read",)),),
        ),
        with_secret=False,
    )
    return PUBLIC


def test_code_and_refresh_with_client_id_alone(deputy: Deputy, public: str) -> None:
    code, verifier = get_code(deputy, client_id=public, resource=INCIDENTS, scope="incidents:read")
    body = redeem(deputy, code, verifier, auth=None, client_id=public).body
    assert refresh(deputy, body["refresh_token"], auth=None, client_id=public).status == 200


def test_public_client_cannot_exchange_or_use_client_credentials(deputy: Deputy, public: str) -> None:
    code, verifier = get_code(deputy, client_id=public)
    token = redeem(deputy, code, verifier, auth=None, client_id=public).body["access_token"]
    for params in (exchange_params(token), {"grant_type": "client_credentials", "resource": INCIDENTS}):
        with pytest.raises(InvalidClient) as exc:
            deputy.token.handle(form({**params, "client_id": public}))
        assert_refused(deputy, exc.value, "invalid_client", "public_client_grant")


def test_public_client_cannot_introspect_or_revoke(deputy: Deputy, public: str) -> None:
    for endpoint in (deputy.introspection, deputy.revocation):
        with pytest.raises(InvalidClient) as exc:
            endpoint.handle(form({"token": "x", "client_id": public}))
        assert exc.value.reason == "public_client_grant"


def test_confidential_client_with_client_id_alone_is_refused(deputy: Deputy) -> None:
    code, verifier = get_code(deputy)
    with pytest.raises(InvalidClient) as exc:
        redeem(deputy, code, verifier, auth=None, client_id="incident-agent")
    assert_refused(deputy, exc.value, "invalid_client", "client_secret_missing")


def test_unknown_client_with_client_id_alone(deputy: Deputy) -> None:
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(form({"grant_type": "authorization_code", "code": "c", "client_id": "nobody"}))
    assert exc.value.reason == "client_secret_missing"


def test_staged_public_client_is_unauthorized(deputy: Deputy, public: str) -> None:
    from deputy.errors import UnauthorizedClient

    code, verifier = get_code(deputy, client_id=public)
    deputy.admin("test").set_agent_status(public, AgentStatus.STAGED)
    with pytest.raises(UnauthorizedClient):
        redeem(deputy, code, verifier, auth=None, client_id=public)
