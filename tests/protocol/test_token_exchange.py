"""RFC 8693 token exchange: delegation with act chains, impersonation, actor tokens."""

from __future__ import annotations

import pytest

from deputy.clock import FixedClock
from deputy.constants import TOKEN_TYPE_ID_TOKEN, TOKEN_TYPE_JWT
from deputy.errors import InvalidRequest, InvalidScope, InvalidTarget, OAuthError
from deputy.jose import verify_jwt
from deputy.realm import Agent, Resource, ResourceGrant, User
from deputy.runtime import Deputy
from tests.conftest import ACCESS_TOKEN_TYPE, AGENT, INCIDENTS, ISSUER, TRIAGE
from tests.protocol.support import (
    add_agent,
    assert_refused,
    claims_of,
    client_credentials,
    events,
    exchange,
    header_of,
    introspect,
    set_grants,
    user_token,
)

ALL_INCIDENT_SCOPES = ("incidents:read", "incidents:write", "hr:read")


# -- the happy path ---------------------------------------------------------------------------------

def test_delegated_token_for_jane(deputy: Deputy, clock: FixedClock) -> None:
    subject = user_token(deputy, "jane")
    response = exchange(deputy, subject)
    body = response.body
    assert response.status == 200
    assert response.headers == {"Cache-Control": "no-store", "Pragma": "no-cache"}
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["scope"] == "incidents:read incidents:write"
    assert "refresh_token" not in body

    token = body["access_token"]
    header, claims = header_of(token), claims_of(token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    assert header["kid"] == deputy.store.keys.key_ring().active_kid("ES256")
    assert claims["iss"] == ISSUER
    assert claims["sub"] == "jane"
    assert claims["aud"] == INCIDENTS
    assert claims["client_id"] == "incident-agent"
    assert claims["act"] == {"sub": "incident-agent", "iss": ISSUER, "sub_profile": "ai_agent"}
    assert set(claims["scope"].split()) == {"incidents:read", "incidents:write"}
    assert "hr:read" not in claims["scope"].split()
    assert claims["iat"] == clock.now()
    assert claims["exp"] == clock.now() + 300
    assert claims["jti"] != claims_of(subject)["jti"]
    assert "may_act" not in claims
    assert "sub_profile" not in claims  # the user's profile is not copied from the subject token
    verified = verify_jwt(
        token, deputy.store.keys.key_ring().verification_keys, algorithms=["ES256"], now=clock.now(),
        typ="at+jwt", issuer=ISSUER, audience=[INCIDENTS],
    )
    assert verified.claims["sub"] == "jane"


def test_delegated_token_for_bob(deputy: Deputy) -> None:
    body = exchange(deputy, user_token(deputy, "bob")).body
    assert body["scope"] == "hr:read incidents:read"
    claims = claims_of(body["access_token"])
    assert claims["sub"] == "bob"
    assert claims["act"]["sub"] == "incident-agent"
    assert "incidents:write" not in claims["scope"].split()


def test_requested_scope_narrows(deputy: Deputy) -> None:
    body = exchange(deputy, user_token(deputy), scope="incidents:read").body
    assert body["scope"] == "incidents:read"
    assert claims_of(body["access_token"])["scope"] == "incidents:read"


def test_requesting_a_scope_the_user_lacks_is_dropped(deputy: Deputy) -> None:
    body = exchange(deputy, user_token(deputy, "jane"), scope="incidents:read hr:read").body
    assert body["scope"] == "incidents:read"


def test_nothing_grantable(deputy: Deputy) -> None:
    with pytest.raises(InvalidScope) as exc:
        exchange(deputy, user_token(deputy, "jane"), scope="hr:read")
    event = assert_refused(deputy, exc.value, "invalid_scope", "scope_empty")
    assert event.subject == "jane"
    assert event.scope_requested == ("hr:read",)
    assert event.audience == (INCIDENTS,)
    assert event.actor_chain == ("incident-agent",)


def test_user_token_scope_does_not_limit_delegation(deputy: Deputy) -> None:
    """DESIGN.md: a user's own token is intersected with entitlements, not with its own scope."""
    body = exchange(deputy, user_token(deputy, "jane", scopes=("openid",))).body
    assert body["scope"] == "incidents:read incidents:write"


def test_lineage_record(deputy: Deputy, clock: FixedClock) -> None:
    subject = user_token(deputy)
    token = exchange(deputy, subject, scope="incidents:read").body["access_token"]
    jti = claims_of(token)["jti"]
    record = deputy.store.tokens.get_token(jti)
    assert record is not None
    assert record.parent_jti == claims_of(subject)["jti"]
    assert record.mode == "delegation"
    assert record.subject == "jane"
    assert record.client_id == "incident-agent"
    assert record.audience == (INCIDENTS,)
    assert record.scope == ("incidents:read",)
    assert record.actors == ("incident-agent",)
    assert record.issued_at == clock.now()
    assert record.expires_at == clock.now() + 300
    assert record.revoked_at is None
    assert [r.jti for r in deputy.store.tokens.ancestry(jti)] == [jti, claims_of(subject)["jti"]]


def test_one_audit_event_per_issuance(deputy: Deputy) -> None:
    subject = user_token(deputy)
    before = len(events(deputy, "token.issued"))
    tokens = [exchange(deputy, subject).body["access_token"] for _ in range(3)]
    issued = events(deputy, "token.issued")[before:]
    assert [e.jti for e in issued] == [claims_of(t)["jti"] for t in tokens]
    for event in issued:
        assert event.outcome == "success"
        assert event.client_id == "incident-agent"
        assert event.subject == "jane"
        assert event.actor_chain == ("incident-agent",)
        assert event.audience == (INCIDENTS,)
        assert event.grant_type == "urn:ietf:params:oauth:grant-type:token-exchange"
        assert event.mode == "delegation"
        assert event.parent_jti == claims_of(subject)["jti"]
        assert event.scope_requested is None
        assert event.scope_granted == ("incidents:read", "incidents:write")
        assert event.data == {"client_auth": "client_secret_basic", "actor_token": False}
    assert not events(deputy, "token.refused")


def test_audience_parameter_names_the_resource(deputy: Deputy) -> None:
    body = exchange(deputy, user_token(deputy), audience=INCIDENTS).body
    assert claims_of(body["access_token"])["aud"] == INCIDENTS


def test_subject_token_type_jwt_is_accepted(deputy: Deputy) -> None:
    body = exchange(deputy, user_token(deputy), subject_token_type=TOKEN_TYPE_JWT).body
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE


def test_requested_token_type_jwt_is_echoed(deputy: Deputy) -> None:
    body = exchange(deputy, user_token(deputy), requested_token_type=TOKEN_TYPE_JWT).body
    assert body["issued_token_type"] == TOKEN_TYPE_JWT


def test_rs256_resource(deputy: Deputy, clock: FixedClock) -> None:
    admin = deputy.admin("test")
    admin.put_resource(Resource("https://rs.example", scopes=("r:read",), signing_alg="RS256", token_ttl=120))
    from deputy.realm import Entitlement

    admin.set_entitlement(Entitlement("it", "https://rs.example", ("r:read",)))
    set_grants(deputy, "incident-agent", {INCIDENTS: ALL_INCIDENT_SCOPES, "https://rs.example": ("r:read",)})
    body = exchange(deputy, user_token(deputy), resource="https://rs.example").body
    assert body["expires_in"] == 120
    assert header_of(body["access_token"])["alg"] == "RS256"
    verify_jwt(
        body["access_token"], deputy.store.keys.key_ring().verification_keys, algorithms=["RS256"],
        now=clock.now(), typ="at+jwt", issuer=ISSUER, audience=["https://rs.example"],
    )


# -- chains -----------------------------------------------------------------------------------------

def test_two_hop_chain(deputy: Deputy) -> None:
    subject = user_token(deputy)
    hop1 = exchange(deputy, subject, audience="triage-agent").body
    assert hop1["scope"] == "incidents:read"  # incident-agent may pass only read to triage-agent
    hop1_claims = claims_of(hop1["access_token"])
    assert hop1_claims["aud"] == "triage-agent"
    assert hop1_claims["act"]["sub"] == "incident-agent"

    hop2 = exchange(deputy, hop1["access_token"], TRIAGE, resource=INCIDENTS).body
    claims = claims_of(hop2["access_token"])
    assert claims["sub"] == "jane"
    assert claims["client_id"] == "triage-agent"
    assert claims["aud"] == INCIDENTS
    assert claims["scope"] == "incidents:read"
    assert claims["act"] == {
        "sub": "triage-agent", "iss": ISSUER, "sub_profile": "ai_agent",
        "act": {"sub": "incident-agent", "iss": ISSUER, "sub_profile": "ai_agent"},
    }
    record = deputy.store.tokens.get_token(claims["jti"])
    assert record is not None
    assert record.actors == ("triage-agent", "incident-agent")
    assert record.parent_jti == hop1_claims["jti"]
    assert events(deputy, "token.issued")[-1].actor_chain == ("triage-agent", "incident-agent")


def test_chain_scope_only_shrinks(deputy: Deputy) -> None:
    """triage-agent may write, but the token it received carries only read."""
    set_grants(deputy, "triage-agent", {INCIDENTS: ("incidents:read", "incidents:write")})
    hop1 = exchange(deputy, user_token(deputy), audience="triage-agent").body["access_token"]
    body = exchange(deputy, hop1, TRIAGE, resource=INCIDENTS).body
    assert body["scope"] == "incidents:read"


def test_downstream_token_not_for_the_caller(deputy: Deputy) -> None:
    """incident-agent cannot re-exchange a token it sent to the incident desk."""
    token = exchange(deputy, user_token(deputy)).body["access_token"]
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, token)
    assert_refused(deputy, exc.value, "invalid_request", "subject_token_not_for_client")


def test_agent_audiences_identify_it(deputy: Deputy) -> None:
    """An agent's extra audience values also name it in a subject token."""
    from dataclasses import replace

    admin = deputy.admin("test")
    admin.update_agent(replace(admin.get_agent("triage-agent"), audiences=("https://triage.example",)))
    admin.put_resource(Resource("https://triage.example", scopes=("incidents:read",)))
    from deputy.realm import Entitlement

    admin.set_entitlement(Entitlement("it", "https://triage.example", ("incidents:read",)))
    set_grants(deputy, "incident-agent", {INCIDENTS: ALL_INCIDENT_SCOPES, "https://triage.example": ("incidents:read",)})
    hop1 = exchange(deputy, user_token(deputy), resource="https://triage.example").body["access_token"]
    assert claims_of(exchange(deputy, hop1, TRIAGE).body["access_token"])["act"]["act"]["sub"] == "incident-agent"


# -- refusals -----------------------------------------------------------------------------------

def test_user_the_agent_may_not_act_for(deputy: Deputy) -> None:
    deputy.admin("test").put_user(User("carol", groups=("sales",)))
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, user_token(deputy, "carol"))
    event = assert_refused(deputy, exc.value, "invalid_request", "subject_not_delegated")
    assert event.subject == "carol"


def test_agent_acting_for_a_named_user(deputy: Deputy) -> None:
    admin = deputy.admin("test")
    admin.put_user(User("carol", groups=("sales",)))
    from dataclasses import replace

    admin.update_agent(replace(admin.get_agent("incident-agent"), subject_users=("carol",)))
    # carol has no entitlement at the incident desk: delegation is allowed, but nothing is left.
    with pytest.raises(InvalidScope) as exc:
        exchange(deputy, user_token(deputy, "carol"))
    assert exc.value.reason == "scope_empty"


def test_disabled_user(deputy: Deputy) -> None:
    subject = user_token(deputy, "jane")
    deputy.admin("test").put_user(User("jane", groups=("it",), disabled=True))
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, subject)
    assert_refused(deputy, exc.value, "invalid_request", "subject_user_unknown")


def test_deleted_user(deputy: Deputy) -> None:
    subject = user_token(deputy, "jane")
    deputy.admin("test").delete_user("jane")
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, subject)
    assert_refused(deputy, exc.value, "invalid_request", "subject_user_unknown")


def test_expired_subject_token(deputy: Deputy, clock: FixedClock) -> None:
    subject = user_token(deputy, ttl=60)
    clock.advance(60)
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, subject)
    assert_refused(deputy, exc.value, "invalid_request", "subject_token_invalid")


def test_subject_token_just_before_expiry(deputy: Deputy, clock: FixedClock) -> None:
    subject = user_token(deputy, ttl=60)
    clock.advance(59)
    assert exchange(deputy, subject).status == 200


def test_revoked_subject_token(deputy: Deputy) -> None:
    subject = user_token(deputy)
    deputy.admin("test").revoke_token(claims_of(subject)["jti"])
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, subject)
    assert_refused(deputy, exc.value, "invalid_request", "subject_token_revoked")


def test_missing_subject_token(deputy: Deputy) -> None:
    from tests.helpers import form

    with pytest.raises(InvalidRequest) as exc:
        deputy.token.handle(form({"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                                  "subject_token_type": ACCESS_TOKEN_TYPE, "resource": INCIDENTS}, AGENT))
    assert_refused(deputy, exc.value, "invalid_request", "missing_parameter")


def test_missing_subject_token_type(deputy: Deputy) -> None:
    from tests.helpers import form

    with pytest.raises(InvalidRequest) as exc:
        deputy.token.handle(form({"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                                  "subject_token": user_token(deputy), "resource": INCIDENTS}, AGENT))
    assert_refused(deputy, exc.value, "invalid_request", "missing_parameter")


@pytest.mark.parametrize(
    "token_type",
    [TOKEN_TYPE_ID_TOKEN, "urn:ietf:params:oauth:token-type:saml2", "urn:ietf:params:oauth:token-type:refresh_token", "access_token"],
)
def test_unsupported_subject_token_type(deputy: Deputy, token_type: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, user_token(deputy), subject_token_type=token_type)
    assert_refused(deputy, exc.value, "invalid_request", "subject_token_type_unsupported")


# An ID-JAG (the hyphenated URN) is issued since issue 4: tests/protocol/test_id_jag_issuance.py.
# The underscore spelling seen in circulating samples is not it (pitfall 11).
@pytest.mark.parametrize("token_type", ["urn:ietf:params:oauth:token-type:id_jag", TOKEN_TYPE_ID_TOKEN])
def test_unsupported_requested_token_type(deputy: Deputy, token_type: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, user_token(deputy), requested_token_type=token_type)
    assert_refused(deputy, exc.value, "invalid_request", "requested_token_type_unsupported")


def test_missing_target(deputy: Deputy) -> None:
    from tests.helpers import form

    with pytest.raises(InvalidRequest) as exc:
        deputy.token.handle(form({"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                                  "subject_token": user_token(deputy), "subject_token_type": ACCESS_TOKEN_TYPE}, AGENT))
    assert_refused(deputy, exc.value, "invalid_request", "target_missing")


def test_logical_name_as_resource_is_invalid(deputy: Deputy) -> None:
    """RFC 8707: resource is an absolute URI; logical names go in audience."""
    with pytest.raises(InvalidTarget) as exc:
        exchange(deputy, user_token(deputy), resource="triage-agent")
    assert_refused(deputy, exc.value, "invalid_target", "target_invalid")


def test_failed_exchange_issues_nothing(deputy: Deputy) -> None:
    before = deputy.store.tokens.count()
    with pytest.raises(OAuthError):
        exchange(deputy, user_token(deputy, "jane"), scope="hr:read")
    assert deputy.store.tokens.count() == before + 1  # only the user token itself


# -- actor tokens -----------------------------------------------------------------------------------

def test_actor_token_type_without_actor_token(deputy: Deputy) -> None:
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, user_token(deputy), actor_token_type=ACCESS_TOKEN_TYPE)
    assert_refused(deputy, exc.value, "invalid_request", "actor_token_type_unexpected")


def test_actor_token_without_actor_token_type(deputy: Deputy) -> None:
    actor = client_credentials(deputy, AGENT, resource=INCIDENTS).body["access_token"]
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, user_token(deputy), actor_token=actor)
    assert_refused(deputy, exc.value, "invalid_request", "actor_token_type_missing")


def test_actor_token_of_the_client(deputy: Deputy) -> None:
    actor = client_credentials(deputy, AGENT, resource=INCIDENTS).body["access_token"]
    body = exchange(deputy, user_token(deputy), actor_token=actor, actor_token_type=ACCESS_TOKEN_TYPE).body
    claims = claims_of(body["access_token"])
    assert claims["sub"] == "jane"
    assert claims["act"]["sub"] == "incident-agent"
    assert events(deputy, "token.issued")[-1].data["actor_token"] is True


def test_actor_token_of_another_agent(deputy: Deputy) -> None:
    actor = client_credentials(deputy, TRIAGE).body["access_token"]
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, user_token(deputy), actor_token=actor, actor_token_type=ACCESS_TOKEN_TYPE)
    assert_refused(deputy, exc.value, "invalid_request", "actor_not_client")


def test_actor_token_that_is_a_users_token(deputy: Deputy) -> None:
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, user_token(deputy), actor_token=user_token(deputy, "bob"), actor_token_type=ACCESS_TOKEN_TYPE)
    assert_refused(deputy, exc.value, "invalid_request", "actor_not_client")


def test_invalid_actor_token(deputy: Deputy) -> None:
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, user_token(deputy), actor_token="not-a-token", actor_token_type=ACCESS_TOKEN_TYPE)
    assert_refused(deputy, exc.value, "invalid_request", "actor_token_invalid")


def test_revoked_actor_token(deputy: Deputy) -> None:
    actor = client_credentials(deputy, AGENT, resource=INCIDENTS).body["access_token"]
    deputy.admin("test").revoke_token(claims_of(actor)["jti"])
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, user_token(deputy), actor_token=actor, actor_token_type=ACCESS_TOKEN_TYPE)
    assert_refused(deputy, exc.value, "invalid_request", "actor_token_invalid")


def test_unsupported_actor_token_type(deputy: Deputy) -> None:
    actor = client_credentials(deputy, AGENT, resource=INCIDENTS).body["access_token"]
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, user_token(deputy), actor_token=actor, actor_token_type=TOKEN_TYPE_ID_TOKEN)
    assert_refused(deputy, exc.value, "invalid_request", "actor_token_invalid")


# -- impersonation ------------------------------------------------------------------------------

def test_impersonation_refused_without_permission(deputy: Deputy) -> None:
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, user_token(deputy), impersonate="true")
    event = assert_refused(deputy, exc.value, "invalid_request", "impersonation_not_allowed")
    assert event.mode == "impersonation"


@pytest.fixture
def impersonator(deputy: Deputy) -> tuple[str, str]:
    auth = add_agent(deputy, "helpdesk-agent", {INCIDENTS: ALL_INCIDENT_SCOPES}, may_impersonate=True)
    return auth


def test_impersonation_allowed(deputy: Deputy, impersonator: tuple[str, str]) -> None:
    subject = user_token(deputy, "jane", client_id="helpdesk-agent")
    body = exchange(deputy, subject, impersonator, impersonate="true").body
    claims = claims_of(body["access_token"])
    assert "act" not in claims
    assert claims["sub"] == "jane"
    assert claims["client_id"] == "helpdesk-agent"
    assert body["scope"] == "incidents:read incidents:write"
    record = deputy.store.tokens.get_token(claims["jti"])
    assert record is not None and record.mode == "impersonation"
    event = events(deputy, "token.issued")[-1]
    assert event.mode == "impersonation"
    assert event.jti == claims["jti"]


def test_impersonation_allowed_agent_still_delegates_by_default(deputy: Deputy, impersonator: tuple[str, str]) -> None:
    subject = user_token(deputy, "jane", client_id="helpdesk-agent")
    for flag in ({}, {"impersonate": "false"}):
        claims = claims_of(exchange(deputy, subject, impersonator, **flag).body["access_token"])
        assert claims["act"]["sub"] == "helpdesk-agent"


def test_impersonation_flag_must_be_boolean(deputy: Deputy, impersonator: tuple[str, str]) -> None:
    subject = user_token(deputy, "jane", client_id="helpdesk-agent")
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, subject, impersonator, impersonate="yes")
    assert_refused(deputy, exc.value, "invalid_request", "invalid_parameter")


def test_impersonation_enabled_by_update_agent(deputy: Deputy) -> None:
    from dataclasses import replace

    admin = deputy.admin("test")
    admin.update_agent(replace(admin.get_agent("incident-agent"), may_impersonate=True))
    claims = claims_of(exchange(deputy, user_token(deputy), impersonate="true").body["access_token"])
    assert "act" not in claims


def test_impersonation_through_a_delegated_token(deputy: Deputy) -> None:
    from dataclasses import replace

    admin = deputy.admin("test")
    admin.update_agent(replace(admin.get_agent("triage-agent"), may_impersonate=True))
    hop1 = exchange(deputy, user_token(deputy), audience="triage-agent").body["access_token"]
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, hop1, TRIAGE, impersonate="true")
    assert_refused(deputy, exc.value, "invalid_request", "impersonation_not_allowed")


def test_impersonating_agent_suspension_deactivates_its_tokens(deputy: Deputy, impersonator: tuple[str, str]) -> None:
    from deputy.realm import AgentStatus

    subject = user_token(deputy, "jane", client_id="helpdesk-agent")
    token = exchange(deputy, subject, impersonator, impersonate="true").body["access_token"]
    assert introspect(deputy, token)["active"] is True
    # STAGED does not revoke anything; the liveness check alone must catch it.
    deputy.admin("test").set_agent_status("helpdesk-agent", AgentStatus.STAGED)
    assert introspect(deputy, token) == {"active": False}


# -- may_act ------------------------------------------------------------------------------------

def test_may_act_naming_this_agent(deputy: Deputy) -> None:
    subject = user_token(deputy, may_act={"sub": "incident-agent", "iss": ISSUER})
    claims = claims_of(exchange(deputy, subject).body["access_token"])
    assert claims["act"]["sub"] == "incident-agent"
    assert "may_act" not in claims  # an input to the decision, never copied (actor profile draft)


def test_may_act_without_iss(deputy: Deputy) -> None:
    subject = user_token(deputy, may_act={"sub": "incident-agent"})
    assert exchange(deputy, subject).status == 200


def test_may_act_with_a_foreign_issuer(deputy: Deputy) -> None:
    subject = user_token(deputy, may_act={"sub": "incident-agent", "iss": "https://other-idp.example"})
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, subject)
    assert_refused(deputy, exc.value, "invalid_request", "may_act_mismatch")


def test_agent_with_unknown_grant_resource_is_refused(deputy: Deputy) -> None:
    """The agent registry refuses grants for resources that do not exist."""
    from deputy.errors import InvalidInput

    with pytest.raises(InvalidInput):
        deputy.admin("test").create_agent(
            Agent("x-agent", resource_grants=(ResourceGrant("https://nowhere.example", ("a",)),))
        )


def test_a_delegated_token_never_outlives_its_subject_token(deputy: Deputy, clock: FixedClock) -> None:
    from deputy.constants import GRANT_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN
    from deputy.jose import peek_claims
    from tests.helpers import form

    subject = deputy.admin().issue_user_token("jane", "incident-agent", ttl=60)
    clock.advance(20)
    params = {"grant_type": GRANT_TOKEN_EXCHANGE, "subject_token": subject,
              "subject_token_type": TOKEN_TYPE_ACCESS_TOKEN, "audience": "https://incidents.example"}
    body = deputy.token.handle(form(params, ("incident-agent", "incident-agent-dev-secret"))).body
    assert body["expires_in"] == 40  # not the resource's 300 s
    assert peek_claims(body["access_token"])[1]["exp"] == peek_claims(subject)[1]["exp"]
