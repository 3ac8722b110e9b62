"""ID-JAG issuance: Deputy as the enterprise IdP (SPECS.md §3, step 1; the seed's Okta request).

Every MUST of the draft's token exchange step, with the attack attempted where it is a security
property: an ID token issued to another client, an access token passed off as an ID token, a
partner or resource that is not configured, scopes beyond the partner's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from joserfc import jwt

from deputy.clock import FixedClock
from deputy.constants import TYP_ID_TOKEN
from deputy.errors import InvalidRequest, InvalidScope, InvalidTarget, OAuthError
from deputy.protocol.chaining_ports import IdentityChaining
from deputy.protocol.token_endpoint import TokenEndpoint
from deputy.protocol.tokens.id_token import id_token_claims
from deputy.realm import User
from deputy.runtime import Deputy
from tests.conftest import AGENT, ISSUER, TRIAGE
from tests.protocol.dialect_support import (
    ID_JAG_TYP,
    ID_JAG_TYPE,
    PARTNER,
    PARTNER_API,
    REFRESH_TOKEN_TYPE,
    add_partner,
    request_id_jag,
)
from tests.protocol.sign_in_support import refresh, sign_in_tokens
from tests.protocol.support import (
    ACCESS_TOKEN_TYPE,
    assert_refused,
    claims_of,
    events,
    exchange,
    header_of,
    introspect,
    user_token,
)

REQUIRED = {"iss", "sub", "aud", "client_id", "jti", "exp", "iat"}


def refused(deputy: Deputy, error_type: type[OAuthError], code: str, reason: str, *args: Any, **kwargs: Any) -> Any:
    with pytest.raises(error_type) as exc:
        request_id_jag(deputy, *args, **kwargs)
    return assert_refused(deputy, exc.value, code, reason)


def own_id_token(deputy: Deputy, *, client_id: str = AGENT[0], sub: str = "jane", ttl: int = 600, **extra: Any) -> str:
    """An ID token made the way sign-in makes one (tests/protocol/sign_in_support.py signs in for real)."""
    now = deputy.store.clock.now()
    claims = id_token_claims(issuer=ISSUER, subject=sub, client_id=client_id, now=now, ttl=ttl, auth_time=now, jti="idt-1")
    claims.update(extra)
    return deputy.store.keys.key_ring().sign(claims, typ=TYP_ID_TOKEN, alg="ES256")


# -- the ID-JAG --------------------------------------------------------------------------------

def test_an_id_token_from_sign_in_becomes_an_id_jag(deputy: Deputy, clock: FixedClock) -> None:
    add_partner(deputy)
    signed_in = sign_in_tokens(deputy)
    r = request_id_jag(deputy, signed_in["id_token"], scope="incidents:read", resource=PARTNER_API)
    assert r.status == 200
    # RFC 8693 §2.2.1 with the draft: N_A, the ID-JAG type, no refresh token
    assert set(r.body) == {"access_token", "issued_token_type", "token_type", "expires_in", "scope"}
    assert r.body["issued_token_type"] == ID_JAG_TYPE and r.body["token_type"] == "N_A"
    assert r.body["scope"] == "incidents:read" and 0 < r.body["expires_in"] <= 300

    id_jag = r.body["access_token"]
    header, claims = header_of(id_jag), claims_of(id_jag)
    assert header["typ"] == ID_JAG_TYP and header["alg"] == "RS256" and header["kid"]
    assert REQUIRED <= set(claims)
    assert claims["iss"] == ISSUER and claims["sub"] == "jane"
    assert claims["aud"] == PARTNER  # one string: the partner AS's issuer
    assert claims["client_id"] == "xaa-incident-agent"  # the agent's client_id AT the partner
    assert claims["exp"] - claims["iat"] == 300 and claims["iat"] == clock.now()
    assert claims["scope"] == "incidents:read" and claims["resource"] == PARTNER_API
    assert claims["auth_time"] == claims_of(signed_in["id_token"])["auth_time"]
    assert claims["act"] == {"sub": AGENT[0], "iss": ISSUER, "sub_profile": "ai_agent"}
    assert claims["email"] == "jane@example.com"
    # signed with a key Deputy publishes
    decoded = jwt.decode(id_jag, deputy.store.keys.key_ring().verification_keys, algorithms=["RS256"])
    assert decoded.claims["jti"] == claims["jti"]


def test_scope_is_narrowed_and_reflected(deputy: Deputy) -> None:
    add_partner(deputy)
    r = request_id_jag(deputy, own_id_token(deputy), scope="incidents:read admin:everything")
    assert r.body["scope"] == "incidents:read" and claims_of(r.body["access_token"])["scope"] == "incidents:read"
    r = request_id_jag(deputy, own_id_token(deputy))
    assert "scope" not in r.body and "scope" not in claims_of(r.body["access_token"])  # the partner decides
    assert "resource" not in claims_of(r.body["access_token"])


def test_lifetime_never_exceeds_the_subject(deputy: Deputy) -> None:
    add_partner(deputy)
    r = request_id_jag(deputy, own_id_token(deputy, ttl=42))
    assert r.body["expires_in"] == 42
    claims = claims_of(r.body["access_token"])
    assert claims["exp"] == claims_of(own_id_token(deputy, ttl=42))["exp"]


def test_lineage_and_audit(deputy: Deputy) -> None:
    add_partner(deputy)
    r = request_id_jag(deputy, own_id_token(deputy), scope="tickets:read")
    jti = claims_of(r.body["access_token"])["jti"]
    record = deputy.store.tokens.get_token(jti)
    assert record is not None
    assert (record.mode, record.audience, record.scope, record.actors) == ("id_jag", (PARTNER,), ("tickets:read",), (AGENT[0],))
    issued = events(deputy, "token.issued")[-1]
    assert issued.jti == jti and issued.mode == "id_jag" and issued.audience == (PARTNER,)
    assert issued.data["dialect"] == "id_jag" and issued.data["partner_client_id"] == "xaa-incident-agent"
    assert issued.data["issued_token_type"] == ID_JAG_TYPE


def test_an_id_jag_is_not_an_access_token(deputy: Deputy) -> None:
    """Type confusion (pitfall 7): the ID-JAG is refused wherever an access token is expected."""
    add_partner(deputy)
    id_jag = request_id_jag(deputy, own_id_token(deputy)).body["access_token"]
    assert introspect(deputy, id_jag) == {"active": False}
    with pytest.raises(InvalidRequest) as exc:
        exchange(deputy, id_jag)
    assert exc.value.reason == "subject_token_invalid"
    # nor can it be turned into another ID-JAG
    refused(deputy, InvalidRequest, "invalid_request", "subject_token_invalid", id_jag)


def test_a_refresh_token_is_a_subject_too(deputy: Deputy) -> None:
    add_partner(deputy, agent_clients=(("incident-agent", "a"), ("triage-agent", "b")))
    signed_in = sign_in_tokens(deputy)
    r = request_id_jag(deputy, signed_in["refresh_token"], REFRESH_TOKEN_TYPE, scope="incidents:read")
    assert r.status == 200 and claims_of(r.body["access_token"])["sub"] == "jane"
    record = deputy.store.tokens.get_token(claims_of(r.body["access_token"])["jti"])
    assert record is not None and record.grant_ref is not None  # the consent it came from
    # it was only looked at: the client still refreshes with it
    rotated = refresh(deputy, signed_in["refresh_token"])
    assert rotated.status == 200
    # the rotated (old) one is no longer a subject
    refused(deputy, InvalidRequest, "invalid_request", "subject_token_revoked", signed_in["refresh_token"],
            REFRESH_TOKEN_TYPE)
    # nor is another client's
    refused(deputy, InvalidRequest, "invalid_request", "subject_token_not_for_client", rotated.body["refresh_token"],
            REFRESH_TOKEN_TYPE, auth=TRIAGE)
    refused(deputy, InvalidRequest, "invalid_request", "subject_token_invalid", "dprt_made-up", REFRESH_TOKEN_TYPE)


def test_withdrawn_consent_ends_refresh_token_subjects(deputy: Deputy) -> None:
    add_partner(deputy)
    signed_in = sign_in_tokens(deputy)
    (consent,) = deputy.admin("test").list_consents("jane")
    deputy.admin("test").withdraw_consent(consent.consent_id)
    refused(deputy, InvalidRequest, "invalid_request", "subject_token_revoked", signed_in["refresh_token"],
            REFRESH_TOKEN_TYPE)


# -- refusals: the subject assertion -----------------------------------------------------------

def test_an_id_token_for_another_client_is_refused(deputy: Deputy) -> None:
    """The draft's MUST (and pitfall 3, Abblix #175): the ID token's aud is the authenticated client."""
    add_partner(deputy, agent_clients=(("incident-agent", "a"), ("triage-agent", "b")))
    refused(deputy, InvalidRequest, "invalid_request", "subject_token_not_for_client", own_id_token(deputy), auth=TRIAGE)
    several = own_id_token(deputy, aud=[AGENT[0], "triage-agent"], azp=AGENT[0])
    refused(deputy, InvalidRequest, "invalid_request", "subject_token_not_for_client", several, auth=TRIAGE)
    assert request_id_jag(deputy, several).status == 200  # azp names incident-agent


def test_other_tokens_are_not_id_tokens(deputy: Deputy, clock: FixedClock) -> None:
    add_partner(deputy)
    access = user_token(deputy)  # typ at+jwt
    refused(deputy, InvalidRequest, "invalid_request", "subject_token_invalid", access)
    refused(deputy, InvalidRequest, "invalid_request", "subject_token_type_unsupported", access, ACCESS_TOKEN_TYPE)
    refused(deputy, InvalidRequest, "invalid_request", "subject_token_type_unsupported", own_id_token(deputy),
            "urn:ietf:params:oauth:token-type:saml2")
    expired = own_id_token(deputy, ttl=10)
    clock.advance(11)
    refused(deputy, InvalidRequest, "invalid_request", "subject_token_invalid", expired)


def test_the_user_must_be_enabled_and_actable_for(deputy: Deputy) -> None:
    add_partner(deputy)
    admin = deputy.admin("test")
    admin.put_user(User("eve", groups=("contractors",)))
    refused(deputy, InvalidRequest, "invalid_request", "subject_not_delegated", own_id_token(deputy, sub="eve"))
    admin.put_user(User("jane", email="jane@example.com", groups=("it",), disabled=True))
    refused(deputy, InvalidRequest, "invalid_request", "subject_user_unknown", own_id_token(deputy))
    refused(deputy, InvalidRequest, "invalid_request", "subject_user_unknown", own_id_token(deputy, sub="ghost"))


# -- refusals: the partner, the resource, the scope ------------------------------------------

def test_audience_is_required_and_must_be_a_partner(deputy: Deputy) -> None:
    add_partner(deputy)
    token = own_id_token(deputy)
    refused(deputy, InvalidRequest, "invalid_request", "target_missing", token, audience=[])
    refused(deputy, InvalidTarget, "invalid_target", "target_unknown", token, audience="https://as.unknown.example")
    refused(deputy, InvalidTarget, "invalid_target", "target_unknown", token, audience=ISSUER)
    refused(deputy, InvalidTarget, "invalid_target", "target_multiple", token, audience=[PARTNER, "https://b.example"])
    # an agent with no client_id at the partner
    refused(deputy, InvalidTarget, "invalid_target", "target_not_allowed", own_id_token(deputy, client_id="triage-agent"),
            auth=TRIAGE)


def test_resource_and_scope_must_be_the_partners(deputy: Deputy) -> None:
    add_partner(deputy)
    token = own_id_token(deputy)
    refused(deputy, InvalidTarget, "invalid_target", "target_not_allowed", token, resource="https://evil.example")
    refused(deputy, InvalidTarget, "invalid_target", "target_invalid", token, resource="not a uri")
    refused(deputy, InvalidScope, "invalid_scope", "scope_empty", token, scope="openid admin:everything")


def test_actor_token_and_impersonation_do_not_apply(deputy: Deputy) -> None:
    add_partner(deputy)
    refused(deputy, InvalidRequest, "invalid_request", "invalid_parameter", own_id_token(deputy), impersonate="true")


def test_without_chaining_the_type_is_unsupported(deputy: Deputy) -> None:
    deputy.context = replace(deputy.context, chaining=None)
    deputy.token = TokenEndpoint(deputy.context, deputy.token.grants, deputy.token.authenticator)
    refused(deputy, InvalidRequest, "invalid_request", "requested_token_type_unsupported", own_id_token(deputy))


def test_refresh_tokens_need_the_sign_in_ledgers(deputy: Deputy) -> None:
    add_partner(deputy)
    deputy.context = replace(deputy.context, chaining=IdentityChaining(partners=deputy.store.partners))
    deputy.token = TokenEndpoint(deputy.context, deputy.token.grants, deputy.token.authenticator)
    refused(deputy, InvalidRequest, "invalid_request", "subject_token_type_unsupported", "dprt_x", REFRESH_TOKEN_TYPE)


def test_an_id_token_of_a_trusted_issuer(deputy: Deputy, clock: FixedClock) -> None:
    """Deputy beside Entra or Okta: the user signed in there; Deputy vouches for the mapped user."""
    from deputy.federation import IssuerKeyCache
    from tests.fake_issuer import FakeIssuer
    from tests.protocol.federation_support import trust, use_key_cache

    add_partner(deputy)
    upstream = FakeIssuer("https://login.example.com/tenant/v2.0", now=clock.now)
    use_key_cache(deputy, IssuerKeyCache(deputy.store.clock, transport=upstream.transport()))
    trust(deputy, upstream)
    r = request_id_jag(deputy, upstream.mint(aud="api://incident-agent"))
    claims = claims_of(r.body["access_token"])
    assert (claims["iss"], claims["sub"]) == (ISSUER, "jane")
    assert events(deputy, "token.issued")[-1].data["subject_issuer"] == upstream.issuer
    refused(deputy, InvalidRequest, "invalid_request", "subject_token_not_for_client", upstream.mint(aud="api://other"))
