"""client_credentials (RFC 6749 §4.4): the agent acts as itself, within its grant."""

from __future__ import annotations

import pytest

from deputy.clock import FixedClock
from deputy.errors import InvalidRequest, InvalidScope, InvalidTarget, UnauthorizedClient
from deputy.jose import verify_jwt
from deputy.realm import AgentStatus
from deputy.runtime import Deputy
from tests.conftest import AGENT, INCIDENTS, ISSUER, TRIAGE
from tests.protocol.support import (
    assert_refused,
    claims_of,
    client_credentials,
    events,
    exchange,
    header_of,
    introspect,
)


def test_token_for_the_agent_itself(deputy: Deputy, clock: FixedClock) -> None:
    response = client_credentials(deputy, AGENT, resource=INCIDENTS)
    body = response.body
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert "refresh_token" not in body
    assert set(body["scope"].split()) == {"incidents:read", "incidents:write", "hr:read"}
    header, claims = header_of(body["access_token"]), claims_of(body["access_token"])
    assert header["typ"] == "at+jwt"
    assert claims["sub"] == "incident-agent"
    assert claims["client_id"] == "incident-agent"
    assert claims["aud"] == INCIDENTS
    assert claims["iss"] == ISSUER
    assert claims["iat"] == clock.now()
    assert claims["exp"] == clock.now() + 300
    assert "act" not in claims  # nobody acts for anybody here
    assert set(claims["scope"].split()) == set(body["scope"].split())
    verify_jwt(
        body["access_token"], deputy.store.keys.key_ring().verification_keys, algorithms=["ES256"],
        now=clock.now(), typ="at+jwt", issuer=ISSUER, audience=[INCIDENTS],
    )


def test_lineage_and_audit(deputy: Deputy) -> None:
    body = client_credentials(deputy, AGENT, resource=INCIDENTS, scope="incidents:read").body
    jti = claims_of(body["access_token"])["jti"]
    record = deputy.store.tokens.get_token(jti)
    assert record is not None
    assert record.mode == "client"
    assert record.subject == record.client_id == "incident-agent"
    assert record.parent_jti is None
    assert record.scope == ("incidents:read",)
    event = events(deputy, "token.issued")[-1]
    assert event.jti == jti
    assert event.mode == "client"
    assert event.grant_type == "client_credentials"
    assert event.scope_requested == ("incidents:read",)
    assert event.scope_granted == ("incidents:read",)
    assert body["access_token"] not in repr(event.to_dict())


def test_scope_is_narrowed_to_the_request(deputy: Deputy) -> None:
    body = client_credentials(deputy, AGENT, resource=INCIDENTS, scope="incidents:read hr:read").body
    assert body["scope"] == "hr:read incidents:read"


def test_scope_beyond_the_grant_is_dropped(deputy: Deputy) -> None:
    body = client_credentials(deputy, TRIAGE, resource=INCIDENTS, scope="incidents:read incidents:write").body
    assert body["scope"] == "incidents:read"


def test_no_grantable_scope(deputy: Deputy) -> None:
    with pytest.raises(InvalidScope) as exc:
        client_credentials(deputy, TRIAGE, resource=INCIDENTS, scope="incidents:write")
    assert_refused(deputy, exc.value, "invalid_scope", "scope_empty")


def test_undefined_scope(deputy: Deputy) -> None:
    with pytest.raises(InvalidScope) as exc:
        client_credentials(deputy, AGENT, resource=INCIDENTS, scope="admin")
    assert exc.value.reason == "scope_empty"


def test_single_grant_is_the_default_target(deputy: Deputy) -> None:
    body = client_credentials(deputy, TRIAGE).body
    assert claims_of(body["access_token"])["aud"] == INCIDENTS


def test_target_required_with_several_grants(deputy: Deputy) -> None:
    with pytest.raises(InvalidRequest) as exc:
        client_credentials(deputy, AGENT)
    assert_refused(deputy, exc.value, "invalid_request", "target_missing")


def test_audience_for_a_logical_resource(deputy: Deputy) -> None:
    body = client_credentials(deputy, AGENT, audience="triage-agent").body
    claims = claims_of(body["access_token"])
    assert claims["aud"] == "triage-agent"
    assert claims["scope"] == "incidents:read"


def test_resource_without_grant(deputy: Deputy) -> None:
    with pytest.raises(InvalidTarget) as exc:
        client_credentials(deputy, TRIAGE, audience="triage-agent")
    assert_refused(deputy, exc.value, "invalid_target", "target_not_allowed")


def test_unknown_resource(deputy: Deputy) -> None:
    with pytest.raises(InvalidTarget) as exc:
        client_credentials(deputy, AGENT, resource="https://evil.example")
    assert_refused(deputy, exc.value, "invalid_target", "target_unknown")


def test_two_targets(deputy: Deputy) -> None:
    with pytest.raises(InvalidTarget) as exc:
        client_credentials(deputy, AGENT, resource=INCIDENTS, audience="triage-agent")
    assert_refused(deputy, exc.value, "invalid_target", "target_multiple")


def test_same_target_as_resource_and_audience_is_one_target(deputy: Deputy) -> None:
    body = client_credentials(deputy, AGENT, resource=INCIDENTS, audience=INCIDENTS).body
    assert claims_of(body["access_token"])["aud"] == INCIDENTS


def test_suspended_agent(deputy: Deputy) -> None:
    deputy.admin("test").set_agent_status("triage-agent", AgentStatus.SUSPENDED)
    with pytest.raises(UnauthorizedClient) as exc:
        client_credentials(deputy, TRIAGE)
    assert_refused(deputy, exc.value, "unauthorized_client", "client_not_active")


@pytest.mark.parametrize("status", [AgentStatus.STAGED, AgentStatus.RETIRED])
def test_inactive_agent(deputy: Deputy, status: AgentStatus) -> None:
    deputy.admin("test").set_agent_status("triage-agent", status)
    with pytest.raises(UnauthorizedClient) as exc:
        client_credentials(deputy, TRIAGE)
    assert exc.value.reason == "client_not_active"


def test_introspection_shows_a_client_token(deputy: Deputy) -> None:
    token = client_credentials(deputy, TRIAGE).body["access_token"]
    body = introspect(deputy, token)
    assert body["active"] is True
    assert body["sub"] == "triage-agent"
    assert body["deputy_mode"] == "client"
    assert "username" not in body  # it is not a user's token


def test_suspending_the_agent_deactivates_its_client_token(deputy: Deputy) -> None:
    token = client_credentials(deputy, TRIAGE).body["access_token"]
    deputy.admin("test").set_agent_status("triage-agent", AgentStatus.SUSPENDED)
    assert introspect(deputy, token) == {"active": False}


def test_client_token_cannot_be_exchanged_as_a_user(deputy: Deputy) -> None:
    """A machine token for triage-agent's audience is not a user's token to delegate."""
    token = client_credentials(deputy, AGENT, audience="triage-agent").body["access_token"]
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, token, TRIAGE)
    assert_refused(deputy, exc.value, "invalid_request", "subject_not_user")
