"""The authorization_code grant: PKCE, single use (a replay revokes what the code gave),
redirect_uri and client binding, and the tokens it issues (user tokens, id_token)."""

from __future__ import annotations

import pytest
from joserfc import jwt

from deputy.clock import FixedClock
from deputy.errors import InvalidClient, InvalidGrant, InvalidRequest, InvalidTarget
from deputy.protocol.tokens.id_token import at_hash
from deputy.realm import Agent, AgentStatus
from deputy.runtime import Deputy
from tests.conftest import AGENT, INCIDENTS, TRIAGE
from tests.helpers import form
from tests.protocol.sign_in_support import (
    REDIRECT,
    authorize_pairs,
    get_code,
    pkce,
    query_of,
    redeem,
    sign_in_tokens,
    who,
)
from tests.protocol.support import (
    assert_refused,
    claims_of,
    events,
    exchange,
    header_of,
    introspect,
    is_active,
)


def test_code_gives_user_tokens(deputy: Deputy) -> None:
    body = sign_in_tokens(deputy)
    assert body["token_type"] == "Bearer" and body["scope"] == "openid profile"
    claims = claims_of(body["access_token"])
    assert header_of(body["access_token"])["typ"] == "at+jwt"
    assert claims["sub"] == "jane" and claims["aud"] == "incident-agent" and claims["client_id"] == "incident-agent"
    assert "act" not in claims
    record = deputy.store.tokens.get_token(claims["jti"])
    assert record is not None and record.mode == "user" and record.grant_type == "authorization_code"
    consent = deputy.store.consents.find_consent("jane", "incident-agent", None)
    assert consent is not None and record.grant_ref == consent.consent_id
    issued = events(deputy, "token.issued")[-1]
    assert issued.jti == claims["jti"] and issued.mode == "user" and issued.subject == "jane"
    assert body["refresh_token"].startswith("dprt_")


def test_id_token(deputy: Deputy) -> None:
    body = sign_in_tokens(deputy)
    header, claims = header_of(body["id_token"]), claims_of(body["id_token"])
    assert header["alg"] == "ES256" and header["typ"] == "JWT"
    jwt.decode(body["id_token"], deputy.store.keys.key_ring().verification_keys, algorithms=["ES256"])
    assert claims["iss"] == deputy.settings.issuer and claims["aud"] == "incident-agent" and claims["sub"] == "jane"
    assert claims["nonce"] == "n-456"
    assert claims["at_hash"] == at_hash(body["access_token"])
    assert isinstance(claims["auth_time"], int) and claims["exp"] > claims["iat"]


def test_no_openid_scope_no_id_token(deputy: Deputy) -> None:
    assert "id_token" not in sign_in_tokens(deputy, scope="profile")


def test_id_token_is_not_accepted_as_a_subject_token(deputy: Deputy) -> None:
    body = sign_in_tokens(deputy)
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, body["id_token"])
    assert exc.value.reason == "subject_token_invalid"


def test_client_can_exchange_the_users_token(deputy: Deputy) -> None:
    """No resource asked: the token is addressed to the client, which exchanges it as an agent."""
    body = sign_in_tokens(deputy)
    exchanged = exchange(deputy, body["access_token"], resource=INCIDENTS).body["access_token"]
    claims = claims_of(exchanged)
    assert claims["sub"] == "jane" and claims["act"]["sub"] == "incident-agent"
    assert claims["scope"] == "incidents:read incidents:write"


def test_resource_token(deputy: Deputy) -> None:
    body = sign_in_tokens(deputy, resource=INCIDENTS, scope="openid incidents:read hr:read")
    claims = claims_of(body["access_token"])
    assert claims["aud"] == INCIDENTS
    assert claims["scope"] == "incidents:read openid"  # jane (it) has no hr:read
    assert body["expires_in"] == 300  # the resource's token_ttl


def test_resource_param_at_the_token_endpoint_must_match(deputy: Deputy) -> None:
    code, verifier = get_code(deputy, resource=INCIDENTS, scope="incidents:read")
    with pytest.raises(InvalidTarget) as exc:
        redeem(deputy, code, verifier, resource="https://other.example")
    assert_refused(deputy, exc.value, "invalid_target", "resource_not_granted")
    assert redeem(deputy, code, verifier, resource=INCIDENTS).status == 200


def test_wrong_verifier_is_refused(deputy: Deputy) -> None:
    code, _ = get_code(deputy)
    with pytest.raises(InvalidGrant) as exc:
        redeem(deputy, code, "x" * 43)
    assert_refused(deputy, exc.value, "invalid_grant", "code_verifier_invalid")


def test_missing_verifier_is_refused(deputy: Deputy) -> None:
    code, _ = get_code(deputy)
    with pytest.raises(InvalidRequest) as exc:
        deputy.token.handle(
            form(
                {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}, AGENT
            )
        )
    assert exc.value.reason == "missing_parameter"


def test_verifier_sent_as_the_challenge_itself_is_refused(deputy: Deputy) -> None:
    """A client (or attacker) that only saw the challenge cannot redeem ("plain" downgrade)."""
    _, challenge = pkce()
    request = deputy.authorization.parse(authorize_pairs(challenge))
    location = deputy.authorization.approve(request, who(deputy)).location
    with pytest.raises(InvalidGrant) as exc:
        redeem(deputy, query_of(location)["code"], challenge)
    assert exc.value.reason == "code_verifier_invalid"


def test_redirect_uri_must_be_the_same(deputy: Deputy) -> None:
    code, verifier = get_code(deputy)
    with pytest.raises(InvalidGrant) as exc:
        redeem(deputy, code, verifier, redirect_uri=REDIRECT + "/other")
    assert_refused(deputy, exc.value, "invalid_grant", "redirect_uri_differs")


def test_wrong_client_cannot_redeem(deputy: Deputy) -> None:
    code, verifier = get_code(deputy)
    with pytest.raises(InvalidGrant) as exc:
        redeem(deputy, code, verifier, auth=TRIAGE)
    assert_refused(deputy, exc.value, "invalid_grant", "code_not_for_client")
    assert redeem(deputy, code, verifier).status == 200  # the failed attempt did not burn it


def test_expired_code(deputy: Deputy, clock: FixedClock) -> None:
    code, verifier = get_code(deputy)
    clock.advance(deputy.settings.authorization_code_ttl)
    with pytest.raises(InvalidGrant) as exc:
        redeem(deputy, code, verifier)
    assert exc.value.reason == "code_invalid"


def test_unknown_code(deputy: Deputy) -> None:
    with pytest.raises(InvalidGrant) as exc:
        redeem(deputy, "no-such-code", "v" * 43)
    assert exc.value.reason == "code_invalid"


def test_replayed_code_is_refused_and_revokes_what_it_gave(deputy: Deputy) -> None:
    code, verifier = get_code(deputy)
    body = redeem(deputy, code, verifier).body
    exchanged = exchange(deputy, body["access_token"], resource=INCIDENTS).body["access_token"]
    assert is_active(deputy, body["access_token"]) and is_active(deputy, exchanged)
    with pytest.raises(InvalidGrant) as exc:
        redeem(deputy, code, verifier)
    assert_refused(deputy, exc.value, "invalid_grant", "code_replayed")
    assert not is_active(deputy, body["access_token"])
    assert not is_active(deputy, exchanged)  # the cascade reaches what was exchanged from it
    with pytest.raises(InvalidGrant):  # and the refresh token is gone too
        deputy.token.handle(
            form(
                {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}, AGENT
            )
        )
    replayed = events(deputy, "authorization_code.replayed")
    assert replayed and replayed[-1].data["revoked_count"] == 2


def test_withdrawn_consent_stops_an_unredeemed_code(deputy: Deputy) -> None:
    code, verifier = get_code(deputy)
    consent = deputy.store.consents.find_consent("jane", "incident-agent", None)
    assert consent is not None
    deputy.admin("test").withdraw_consent(consent.consent_id)
    with pytest.raises(InvalidGrant) as exc:
        redeem(deputy, code, verifier)
    assert exc.value.reason == "grant_withdrawn"


def test_disabled_user_cannot_redeem(deputy: Deputy) -> None:
    from dataclasses import replace

    code, verifier = get_code(deputy)
    admin = deputy.admin("test")
    jane = deputy.store.realm.get_user("jane")
    assert jane is not None
    admin.put_user(replace(jane, disabled=True))
    with pytest.raises(InvalidGrant):
        redeem(deputy, code, verifier)


def test_confidential_client_needs_its_secret(deputy: Deputy) -> None:
    code, verifier = get_code(deputy)
    with pytest.raises(InvalidClient) as exc:
        redeem(deputy, code, verifier, auth=None, client_id="incident-agent")
    assert_refused(deputy, exc.value, "invalid_client", "client_secret_missing")


def test_public_client_redeems_with_client_id_alone(deputy: Deputy) -> None:
    deputy.admin("test").create_agent(
        Agent("spa", status=AgentStatus.ACTIVE, redirect_uris=(REDIRECT,), public_client=True), with_secret=False
    )
    code, verifier = get_code(deputy, client_id="spa")
    body = redeem(deputy, code, verifier, auth=None, client_id="spa").body
    assert claims_of(body["access_token"])["client_id"] == "spa"
    assert events(deputy, "token.issued")[-1].data["client_auth"] == "none"
    assert introspect(deputy, body["access_token"])["active"] is True
