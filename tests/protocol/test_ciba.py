"""Human approval, OpenID CIBA Core 1.0 poll mode: /bc-authorize, the user's decision and the
ciba grant, without HTTP. Every error code of §11 and §13 that Deputy answers, replay, another
client's auth_req_id, expiry (FixedClock), and approval-required scopes refused to exchanges."""

from __future__ import annotations

from dataclasses import replace

import pytest

from deputy.clock import FixedClock
from deputy.constants import GRANT_CIBA
from deputy.errors import (
    AccessDenied,
    ApprovalDenied,
    AuthorizationPending,
    ExpiredToken,
    InvalidBindingMessage,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    NotFound,
    OAuthError,
    SlowDown,
    UnauthorizedClient,
    UnknownUserId,
)
from deputy.protocol.backchannel_ports import BackchannelStatus
from deputy.realm import AgentStatus
from deputy.runtime import Deputy
from tests.conftest import AGENT, INCIDENTS, ISSUER, TRIAGE
from tests.helpers import form
from tests.protocol.ciba_support import APPROVAL_SCOPE, bc_authorize, poll, require_approval, stored
from tests.protocol.dialect_support import obo
from tests.protocol.support import (
    add_agent,
    assert_refused,
    claims_of,
    client_credentials,
    events,
    exchange,
    is_active,
    user_token,
)


@pytest.fixture(autouse=True)
def approval_marked(deputy: Deputy) -> None:
    require_approval(deputy, APPROVAL_SCOPE)


def _approved_request(deputy: Deputy, clock: FixedClock) -> str:
    auth_req_id = bc_authorize(deputy).body["auth_req_id"]
    deputy.approvals.decide(stored(deputy, auth_req_id).request_id, "jane", True, via="test")
    clock.advance(5)
    return str(auth_req_id)


# -- approval-required scopes are never issued by an exchange alone ----------------------------------

def test_exchange_drops_an_approval_scope_and_says_so(deputy: Deputy) -> None:
    response = exchange(deputy, user_token(deputy), scope="incidents:read incidents:write")
    assert response.body["scope"] == "incidents:read"
    assert APPROVAL_SCOPE not in claims_of(response.body["access_token"])["scope"].split()
    assert events(deputy, "token.issued")[-1].data["approval_withheld"] == [APPROVAL_SCOPE]


def test_exchange_without_scope_gets_everything_but_the_approval_scope(deputy: Deputy) -> None:
    response = exchange(deputy, user_token(deputy))
    assert response.body["scope"] == "incidents:read"


def test_exchange_for_only_the_approval_scope_is_refused(deputy: Deputy) -> None:
    with pytest.raises(InvalidScope) as caught:
        exchange(deputy, user_token(deputy), scope=APPROVAL_SCOPE)
    assert "backchannel" in caught.value.description
    assert_refused(deputy, caught.value, "invalid_scope", "approval_required")


def test_chained_exchange_cannot_reach_the_approval_scope(deputy: Deputy) -> None:
    hop = exchange(deputy, user_token(deputy), audience="triage-agent").body["access_token"]
    with pytest.raises(OAuthError) as caught:
        exchange(deputy, hop, auth=TRIAGE, scope=APPROVAL_SCOPE)
    assert caught.value.error in ("invalid_scope", "invalid_request")


def test_on_behalf_of_for_only_the_approval_scope_is_refused(deputy: Deputy) -> None:
    with pytest.raises(InvalidScope) as caught:
        obo(deputy, user_token(deputy), scope=f"{INCIDENTS}/{APPROVAL_SCOPE}")
    assert caught.value.reason == "approval_required"


def test_client_credentials_never_get_the_approval_scope(deputy: Deputy) -> None:
    with pytest.raises(InvalidScope) as caught:
        client_credentials(deputy, AGENT, resource=INCIDENTS, scope=APPROVAL_SCOPE)
    assert caught.value.reason == "approval_required"


# -- /bc-authorize -----------------------------------------------------------------------------------

def test_request_answers_auth_req_id_expiry_and_interval(deputy: Deputy, clock: FixedClock) -> None:
    response = bc_authorize(deputy)
    assert response.status == 200
    assert response.headers == {"Cache-Control": "no-store", "Pragma": "no-cache"}
    body = response.body
    assert set(body) == {"auth_req_id", "expires_in", "interval"}
    assert len(body["auth_req_id"]) >= 43 and body["expires_in"] == 300 and body["interval"] == 5
    request = stored(deputy, body["auth_req_id"])
    assert request.status is BackchannelStatus.PENDING
    assert (request.username, request.client_id, request.resource) == ("jane", "incident-agent", INCIDENTS)
    assert request.scopes == (APPROVAL_SCOPE,)  # openid is accepted and ignored
    assert request.binding_message == "Close incident INC-42"
    assert request.auth_req_hash != body["auth_req_id"]  # only the hash is stored
    event = events(deputy, "backchannel.requested")[-1]
    assert event.subject == "jane" and event.client_id == "incident-agent" and event.audience == (INCIDENTS,)
    assert event.data["request_id"] == request.request_id and event.data["approval_scopes"] == [APPROVAL_SCOPE]
    assert body["auth_req_id"] not in str(event.to_dict())


def test_requested_scopes_are_narrowed_by_policy(deputy: Deputy) -> None:
    body = bc_authorize(deputy, scope="incidents:read incidents:write hr:read").body  # jane has no hr:read
    assert stored(deputy, body["auth_req_id"]).scopes == ("incidents:read", "incidents:write")


def test_requested_expiry_is_honoured_and_capped(deputy: Deputy) -> None:
    assert bc_authorize(deputy, requested_expiry="120").body["expires_in"] == 120
    assert bc_authorize(deputy, requested_expiry="99999").body["expires_in"] == 600


@pytest.mark.parametrize(
    ("params", "error", "reason"),
    [
        ({"login_hint": None}, InvalidRequest, "hint_missing"),
        ({"id_token_hint": "x.y.z"}, InvalidRequest, "hint_missing"),
        ({"login_hint": None, "id_token_hint": "x.y.z"}, InvalidRequest, "hint_unsupported"),
        ({"login_hint": None, "login_hint_token": "x"}, InvalidRequest, "hint_unsupported"),
        ({"login_hint": "nobody"}, UnknownUserId, "unknown_user"),
        ({"login_hint": "x" * 500}, UnknownUserId, "unknown_user"),
        ({"user_code": "1234"}, InvalidRequest, "user_code_unsupported"),
        ({"scope": None}, InvalidRequest, "missing_parameter"),
        ({"scope": "openid"}, InvalidScope, "scope_empty"),
        ({"scope": "nothing:here"}, InvalidScope, "scope_empty"),
        ({"binding_message": "x" * 129}, InvalidBindingMessage, "binding_message_invalid"),
        ({"binding_message": "line one\nline two"}, InvalidBindingMessage, "binding_message_invalid"),
        ({"binding_message": "bidi \u202e trick"}, InvalidBindingMessage, "binding_message_invalid"),
        ({"requested_expiry": "0"}, InvalidRequest, "requested_expiry_invalid"),
        ({"requested_expiry": "-5"}, InvalidRequest, "requested_expiry_invalid"),
        ({"requested_expiry": "soon"}, InvalidRequest, "requested_expiry_invalid"),
        ({"resource": None}, InvalidRequest, "target_missing"),
        ({"resource": "https://unknown.example"}, InvalidTarget, "target_unknown"),
        ({"resource": "https://incidents.example#x"}, InvalidTarget, "target_invalid"),
        ({"audience": "triage-agent"}, InvalidTarget, "target_multiple"),
    ],
)
def test_bad_requests_are_refused_with_the_right_code(
    deputy: Deputy, params: dict[str, str | None], error: type[OAuthError], reason: str
) -> None:
    with pytest.raises(error) as caught:
        bc_authorize(deputy, **params)
    assert caught.value.reason == reason
    refused = events(deputy, "backchannel.refused")[-1]
    assert refused.error == caught.value.error and refused.reason == reason and refused.outcome == "failure"
    assert deputy.store.backchannel.list_requests() == []


def test_a_fine_binding_message_in_any_script_is_accepted(deputy: Deputy) -> None:
    assert bc_authorize(deputy, binding_message="Fermer l'incident n° 42 — Jane ✓").status == 200


def test_agent_not_allowed_to_act_for_the_user_is_access_denied(deputy: Deputy) -> None:
    add_agent(deputy, "hr-only", {INCIDENTS: ("incidents:write",)}, subject_groups=("hr",))
    agent = deputy.admin("test").get_agent("hr-only")
    secret = deputy.admin("test").new_secret(agent.client_id).secret.reveal()
    with pytest.raises(AccessDenied) as caught:
        bc_authorize(deputy, auth=("hr-only", secret))
    assert caught.value.status_code == 403 and caught.value.reason == "subject_not_delegated"


def test_resource_not_allowed_for_the_agent_is_invalid_target(deputy: Deputy) -> None:
    with pytest.raises(InvalidTarget) as caught:
        bc_authorize(deputy, auth=TRIAGE, resource=None, audience="triage-agent")
    assert caught.value.reason == "target_not_allowed"


def test_client_authentication_is_required_and_checked(deputy: Deputy) -> None:
    with pytest.raises(InvalidClient):
        bc_authorize(deputy, auth=None)
    with pytest.raises(InvalidClient):
        bc_authorize(deputy, auth=("incident-agent", "wrong-secret"))
    deputy.admin("test").set_agent_status("incident-agent", AgentStatus.SUSPENDED)
    with pytest.raises(UnauthorizedClient):
        bc_authorize(deputy)


def test_disabled_user_is_unknown(deputy: Deputy) -> None:
    jane = deputy.store.realm.get_user("jane")
    assert jane is not None
    deputy.admin("test").put_user(replace(jane, disabled=True))
    with pytest.raises(UnknownUserId):
        bc_authorize(deputy)


# -- polling -----------------------------------------------------------------------------------------

def test_pending_then_slow_down_grows_the_interval(deputy: Deputy, clock: FixedClock) -> None:
    auth_req_id = bc_authorize(deputy).body["auth_req_id"]
    with pytest.raises(SlowDown):  # before the first interval has passed
        poll(deputy, auth_req_id)
    assert stored(deputy, auth_req_id).interval == 10
    clock.advance(10)
    refused_before = len(events(deputy, "token.refused"))
    with pytest.raises(AuthorizationPending) as pending:
        poll(deputy, auth_req_id)
    assert pending.value.status_code == 400
    assert len(events(deputy, "token.refused")) == refused_before  # a state, not audited at every poll
    clock.advance(5)  # the grown interval is 10: five seconds is too fast
    with pytest.raises(SlowDown) as slow:
        poll(deputy, auth_req_id)
    assert_refused(deputy, slow.value, "slow_down", "slow_down")
    assert stored(deputy, auth_req_id).interval == 15
    clock.advance(15)
    with pytest.raises(AuthorizationPending):
        poll(deputy, auth_req_id)


def test_approved_request_yields_exactly_one_delegated_token(deputy: Deputy, clock: FixedClock) -> None:
    auth_req_id = _approved_request(deputy, clock)
    response = poll(deputy, auth_req_id)
    assert response.status == 200
    body = response.body
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300 and body["scope"] == APPROVAL_SCOPE
    claims = claims_of(body["access_token"])
    assert claims["sub"] == "jane" and claims["aud"] == INCIDENTS and claims["client_id"] == "incident-agent"
    assert claims["act"] == {"sub": "incident-agent", "iss": ISSUER, "sub_profile": "ai_agent"}
    assert claims["scope"] == APPROVAL_SCOPE
    assert is_active(deputy, body["access_token"])

    request = stored(deputy, auth_req_id)
    assert request.status is BackchannelStatus.ISSUED and request.issued_jti == claims["jti"]
    record = deputy.store.tokens.get_token(claims["jti"])
    assert record is not None and record.grant_type == GRANT_CIBA and record.mode == "delegation"
    assert record.actors == ("incident-agent",) and record.grant_ref == request.consent_id
    issued = events(deputy, "token.issued")[-1]
    assert issued.grant_type == GRANT_CIBA and issued.data["request_id"] == request.request_id
    assert issued.data["approved_by"] == "jane" and issued.jti == claims["jti"]
    approved = events(deputy, "backchannel.approved")[-1]
    assert approved.subject == "jane" and approved.data["via"] == "test"

    with pytest.raises(InvalidGrant) as replay:  # single use
        poll(deputy, auth_req_id)
    assert_refused(deputy, replay.value, "invalid_grant", "auth_req_id_used")


def test_another_clients_auth_req_id_is_invalid_grant_and_changes_nothing(deputy: Deputy, clock: FixedClock) -> None:
    auth_req_id = _approved_request(deputy, clock)
    with pytest.raises(InvalidGrant) as caught:
        poll(deputy, auth_req_id, auth=TRIAGE)
    assert_refused(deputy, caught.value, "invalid_grant", "auth_req_id_invalid")
    assert stored(deputy, auth_req_id).status is BackchannelStatus.APPROVED
    assert poll(deputy, auth_req_id).status == 200  # the owner still collects its token


def test_another_clients_polls_do_not_slow_the_owner_down(deputy: Deputy, clock: FixedClock) -> None:
    auth_req_id = bc_authorize(deputy).body["auth_req_id"]
    clock.advance(5)
    for _ in range(3):
        with pytest.raises(InvalidGrant):
            poll(deputy, auth_req_id, auth=TRIAGE)
    with pytest.raises(AuthorizationPending):
        poll(deputy, auth_req_id)


def test_unknown_auth_req_id_is_invalid_grant(deputy: Deputy) -> None:
    with pytest.raises(InvalidGrant) as caught:
        poll(deputy, "not-an-auth-req-id")
    assert caught.value.reason == "auth_req_id_invalid"
    with pytest.raises(InvalidRequest):
        deputy.token.handle(form({"grant_type": GRANT_CIBA}, AGENT))


def test_denied_request_is_access_denied(deputy: Deputy, clock: FixedClock) -> None:
    auth_req_id = bc_authorize(deputy).body["auth_req_id"]
    decided = deputy.approvals.decide(stored(deputy, auth_req_id).request_id, "jane", False, via="test")
    assert decided.request.status is BackchannelStatus.DENIED and decided.request.consent_id is None
    clock.advance(5)
    with pytest.raises(ApprovalDenied) as caught:
        poll(deputy, auth_req_id)
    assert caught.value.error == "access_denied" and caught.value.status_code == 400
    assert_refused(deputy, caught.value, "access_denied", "approval_denied")
    assert events(deputy, "backchannel.denied")[-1].subject == "jane"


def test_expired_request_is_expired_token_and_cannot_be_approved(deputy: Deputy, clock: FixedClock) -> None:
    auth_req_id = bc_authorize(deputy, requested_expiry="60").body["auth_req_id"]
    clock.advance(60)
    with pytest.raises(ExpiredToken) as caught:
        poll(deputy, auth_req_id)
    assert_refused(deputy, caught.value, "expired_token", "auth_req_id_expired")
    with pytest.raises(NotFound):
        deputy.approvals.decide(stored(deputy, auth_req_id).request_id, "jane", True, via="test")
    assert deputy.approvals.pending("jane") == []


def test_approved_but_not_collected_in_time_expires(deputy: Deputy, clock: FixedClock) -> None:
    auth_req_id = bc_authorize(deputy, requested_expiry="60").body["auth_req_id"]
    deputy.approvals.decide(stored(deputy, auth_req_id).request_id, "jane", True, via="test")
    clock.advance(61)
    with pytest.raises(ExpiredToken):
        poll(deputy, auth_req_id)


def test_only_the_named_user_decides_and_only_once(deputy: Deputy) -> None:
    request_id = stored(deputy, bc_authorize(deputy).body["auth_req_id"]).request_id
    assert [r.request_id for r in deputy.approvals.pending("jane")] == [request_id]
    assert deputy.approvals.pending("bob") == []
    with pytest.raises(NotFound):
        deputy.approvals.decide(request_id, "bob", True, via="test")
    deputy.approvals.decide(request_id, "jane", False, via="test")
    with pytest.raises(NotFound):  # a denial cannot be turned into an approval
        deputy.approvals.decide(request_id, "jane", True, via="test")
    with pytest.raises(NotFound):
        deputy.approvals.decide("no-such-request", "jane", True, via="test")


def test_withdrawing_the_approval_before_collection_denies(deputy: Deputy, clock: FixedClock) -> None:
    auth_req_id = _approved_request(deputy, clock)
    consent_id = stored(deputy, auth_req_id).consent_id
    assert consent_id is not None
    deputy.admin("user:jane").withdraw_consent(consent_id, by_user="jane")
    with pytest.raises(ApprovalDenied):
        poll(deputy, auth_req_id)


def test_withdrawing_the_approval_revokes_the_token_and_its_descendants(deputy: Deputy, clock: FixedClock) -> None:
    auth_req_id = _approved_request(deputy, clock)
    token = poll(deputy, auth_req_id).body["access_token"]
    consents = deputy.store.consents.list_consents("jane")
    assert [(c.client_id, c.resource, c.scopes) for c in consents] == [("incident-agent", INCIDENTS, (APPROVAL_SCOPE,))]
    deputy.admin("user:jane").withdraw_consent(consents[0].consent_id, by_user="jane")
    assert not is_active(deputy, token)


def test_agent_suspended_after_approval_gets_nothing(deputy: Deputy, clock: FixedClock) -> None:
    auth_req_id = _approved_request(deputy, clock)
    deputy.admin("test").set_agent_status("incident-agent", AgentStatus.SUSPENDED)
    with pytest.raises(UnauthorizedClient):
        poll(deputy, auth_req_id)


def test_policy_is_decided_again_at_issuance(deputy: Deputy, clock: FixedClock) -> None:
    auth_req_id = _approved_request(deputy, clock)
    jane = deputy.store.realm.get_user("jane")
    assert jane is not None
    deputy.admin("test").put_user(replace(jane, groups=()))  # no longer in "it"
    with pytest.raises(InvalidGrant) as caught:
        poll(deputy, auth_req_id)
    assert caught.value.reason == "subject_not_delegated"
