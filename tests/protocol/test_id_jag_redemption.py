"""ID-JAG redemption: Deputy as the resource's authorization server (SPECS.md §3, step 2).

An enterprise IdP (a fake one, with its own keys, fetched in-process) is trusted for ID-JAGs.
Every validation rule of RFC 7521 §5.2 and the draft is attempted as an attack, and every failure
must be invalid_grant (pitfall 9).
"""

from __future__ import annotations

from typing import Any

import pytest

from deputy.clock import FixedClock
from deputy.errors import (
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    OAuthError,
)
from deputy.realm import Agent, AgentStatus
from deputy.runtime import Deputy
from tests.conftest import AGENT, INCIDENTS, ISSUER
from tests.fake_issuer import FakeIssuer, new_key
from tests.helpers import form
from tests.protocol.dialect_support import (
    ID_JAG_TYP,
    JWT_BEARER,
    JWT_BEARER_UNDERSCORE,
    PARTNER,
    add_partner,
    jag_claims,
    mint_jag,
    redeem,
    request_id_jag,
    trusted_idp,
)
from tests.protocol.support import assert_refused, claims_of, events, hs256_jwt, unsigned_jwt

SPEC_KEYS = {"access_token", "token_type", "expires_in", "scope"}


@pytest.fixture
def idp(deputy: Deputy, clock: FixedClock) -> FakeIssuer:
    return trusted_idp(deputy, clock.now)


def refused(deputy: Deputy, assertion: str, reason: str, error_type: type[OAuthError] = InvalidGrant,
            code: str = "invalid_grant", **params: Any) -> Any:
    with pytest.raises(error_type) as exc:
        redeem(deputy, assertion, **params)
    return assert_refused(deputy, exc.value, code, reason)


# -- the access token --------------------------------------------------------------------------

def test_an_id_jag_becomes_a_delegated_access_token(deputy: Deputy, idp: FakeIssuer) -> None:
    assertion = mint_jag(idp, scope="incidents:read")
    r = redeem(deputy, assertion)
    assert r.status == 200
    assert set(r.body) == SPEC_KEYS  # never a refresh token (pitfall 10)
    assert r.body["token_type"] == "Bearer" and r.body["scope"] == "incidents:read"
    claims = claims_of(r.body["access_token"])
    assert claims["iss"] == ISSUER and claims["sub"] == "jane" and claims["aud"] == INCIDENTS
    assert claims["client_id"] == AGENT[0] and claims["scope"] == "incidents:read"
    assert claims["act"] == {"sub": AGENT[0], "iss": ISSUER, "sub_profile": "ai_agent"}
    # it never outlives the ID-JAG it came from
    assert claims["exp"] <= claims_of(assertion)["exp"]

    issued = events(deputy, "token.issued")[-1]
    assert issued.grant_type == JWT_BEARER and issued.mode == "delegation" and issued.parent_jti is None
    assert issued.data["dialect"] == "id_jag" and issued.data["assertion_issuer"] == idp.issuer
    assert issued.data["assertion_jti"] == claims_of(assertion)["jti"] and issued.data["assertion_sub"] == "jane"


def test_the_same_id_jag_may_be_presented_again_until_it_expires(deputy: Deputy, idp: FakeIssuer, clock: FixedClock) -> None:
    assertion = mint_jag(idp)
    first, second = redeem(deputy, assertion), redeem(deputy, assertion)
    assert claims_of(first.body["access_token"])["jti"] != claims_of(second.body["access_token"])["jti"]
    clock.advance(300 + deputy.settings.clock_leeway)
    refused(deputy, assertion, "assertion_invalid")


def test_scope_narrows_and_is_echoed(deputy: Deputy, idp: FakeIssuer) -> None:
    both = mint_jag(idp, scope="incidents:read incidents:write")
    assert redeem(deputy, both, scope="incidents:write").body["scope"] == "incidents:write"
    # asking beyond the ID-JAG gets at most the ID-JAG
    assert redeem(deputy, mint_jag(idp, scope="incidents:read"), scope="incidents:read incidents:write").body[
        "scope"] == "incidents:read"
    # without scope in the ID-JAG the decision alone bounds it (jane: read and write)
    assert redeem(deputy, mint_jag(idp, scope=None)).body["scope"] == "incidents:read incidents:write"
    # nothing left: the user has no hr:read
    refused(deputy, mint_jag(idp, scope="hr:read"), "scope_empty", InvalidScope, "invalid_scope")


def test_the_resource(deputy: Deputy, idp: FakeIssuer) -> None:
    # named by the request only
    r = redeem(deputy, mint_jag(idp, resource=None), resource=INCIDENTS)
    assert claims_of(r.body["access_token"])["aud"] == INCIDENTS
    # a request resource the ID-JAG does not name
    refused(deputy, mint_jag(idp), "resource_not_granted", InvalidTarget, "invalid_target",
            resource="https://other.example")
    # the ID-JAG names one Deputy does not know
    refused(deputy, mint_jag(idp, resource="https://unknown.example"), "target_unknown", InvalidTarget, "invalid_target")
    # none named, and the agent may reach two resources that define these scopes
    refused(deputy, mint_jag(idp, resource=None), "target_missing", InvalidRequest, "invalid_request")


def test_the_act_of_the_id_jag_is_recorded_not_nested(deputy: Deputy, idp: FakeIssuer) -> None:
    act = {"sub": "incident-agent@idp", "iss": idp.issuer}
    r = redeem(deputy, mint_jag(idp, act=act))
    assert claims_of(r.body["access_token"])["act"] == {"sub": AGENT[0], "iss": ISSUER, "sub_profile": "ai_agent"}
    assert events(deputy, "token.issued")[-1].data["assertion_act"] == act


def test_users_are_mapped_and_provisioned_like_subject_tokens(deputy: Deputy, clock: FixedClock) -> None:
    idp = trusted_idp(
        deputy, clock.now, provision=True, user_claim="email", groups_claim="groups", group_map=(("ext-it", "it"),)
    )
    r = redeem(deputy, mint_jag(idp, sub="00u123", email="carol@example.com", groups=["ext-it"]))
    assert r.status == 200 and claims_of(r.body["access_token"])["sub"] == "carol@example.com"
    assert events(deputy, "user.provisioned")[-1].subject == "carol@example.com"
    # provisioned without groups: the agent may act only for "it" and "hr"
    refused(deputy, mint_jag(idp, sub="00u456", email="dan@example.com"), "subject_not_delegated")


def test_the_underscore_dialect_reaches_the_same_grant(deputy: Deputy, idp: FakeIssuer) -> None:
    r = redeem(deputy, mint_jag(idp), grant_type=JWT_BEARER_UNDERSCORE)
    assert r.status == 200
    assert events(deputy, "token.issued")[-1].data["grant_type_sent"] == JWT_BEARER_UNDERSCORE


# -- refusals: each rule, attempted -------------------------------------------------------------

def test_typ_must_be_oauth_id_jag_jwt(deputy: Deputy, idp: FakeIssuer) -> None:
    for typ in (None, "JWT", "at+jwt", "oauth-id-jag", "id-jag+jwt", "oauth-id_jag+jwt"):
        event = refused(deputy, mint_jag(idp, typ=typ), "assertion_invalid")
        assert "typ" in event.detail
    assert redeem(deputy, mint_jag(idp, typ="application/" + ID_JAG_TYP)).status == 200  # RFC 7515 §4.1.9


def test_aud_must_be_exactly_this_server(deputy: Deputy, idp: FakeIssuer) -> None:
    assert redeem(deputy, mint_jag(idp, aud=[ISSUER])).status == 200  # a one-element array
    refused(deputy, mint_jag(idp, aud=[ISSUER, PARTNER]), "assertion_wrong_audience")
    refused(deputy, mint_jag(idp, aud=PARTNER), "assertion_wrong_audience")
    refused(deputy, mint_jag(idp, aud=deputy.settings.token_endpoint), "assertion_wrong_audience")
    refused(deputy, mint_jag(idp, aud=ISSUER + "/"), "assertion_wrong_audience")
    refused(deputy, mint_jag(idp, aud=[]), "assertion_wrong_audience")


def test_client_id_must_be_the_authenticated_client(deputy: Deputy, idp: FakeIssuer) -> None:
    refused(deputy, mint_jag(idp, client_id="triage-agent"), "assertion_not_for_client")
    event = refused(deputy, mint_jag(idp, client_id="xaa-incident-agent"), "assertion_not_for_client")
    assert event.client_id == AGENT[0]


def test_required_claims_and_times(deputy: Deputy, idp: FakeIssuer, clock: FixedClock) -> None:
    now = clock.now()
    for missing in ("sub", "client_id", "jti", "exp", "iat", "aud"):
        event = refused(deputy, mint_jag(idp, **{missing: None}), "assertion_invalid")
        assert missing in event.detail
    refused(deputy, mint_jag(idp, exp=now - 60, iat=now - 360), "assertion_invalid")
    refused(deputy, mint_jag(idp, iat=now + 600, exp=now + 700), "assertion_invalid")
    refused(deputy, mint_jag(idp, exp=now + 86400), "assertion_invalid")  # unreasonably far ahead
    refused(deputy, mint_jag(idp, exp=str(now + 60)), "assertion_invalid")
    refused(deputy, mint_jag(idp, jti=""), "assertion_invalid")
    refused(deputy, mint_jag(idp, scope=["incidents:read"]), "assertion_invalid")


def test_signatures(deputy: Deputy, idp: FakeIssuer) -> None:
    claims = jag_claims(idp)
    kid = idp.signing.kid
    refused(deputy, unsigned_jwt({"alg": "none", "typ": ID_JAG_TYP, "kid": kid}, claims), "assertion_invalid")
    public = idp.signing.as_pem(private=False)
    refused(deputy, hs256_jwt({"alg": "HS256", "typ": ID_JAG_TYP, "kid": kid}, claims, public), "assertion_invalid")
    # a key the IdP never published (and a kid it never used)
    refused(deputy, idp.mint(claims, typ=ID_JAG_TYP, key=new_key("RS256")), "assertion_invalid")
    # the IdP's kid, another key
    forged = idp.mint(claims, typ=ID_JAG_TYP, key=new_key("RS256", kid=str(kid)))
    refused(deputy, forged, "assertion_invalid")
    # tampered claims
    header, _, signature = mint_jag(idp).split(".")
    body = mint_jag(idp, sub="bob").split(".")[1]
    refused(deputy, f"{header}.{body}.{signature}", "assertion_invalid")


def test_only_trusted_id_jag_issuers(deputy: Deputy, clock: FixedClock) -> None:
    stranger = FakeIssuer("https://stranger.example", alg="RS256", now=clock.now)
    refused(deputy, mint_jag(stranger), "assertion_invalid")
    trusted_for_tokens_only = trusted_idp(deputy, clock.now, id_jag=False)
    event = refused(deputy, mint_jag(trusted_for_tokens_only), "assertion_invalid")
    assert "not trusted for ID-JAGs" in event.detail


def test_an_unreachable_idp_is_invalid_grant(deputy: Deputy, idp: FakeIssuer) -> None:
    idp.down = True
    idp.rotate("RS256")  # a kid Deputy has not fetched
    refused(deputy, mint_jag(idp), "issuer_unavailable")


def test_a_key_bound_id_jag_is_refused(deputy: Deputy, idp: FakeIssuer) -> None:
    refused(deputy, mint_jag(idp, cnf={"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}), "assertion_bound")


def test_an_id_jag_this_server_issued_is_not_redeemable_here(deputy: Deputy, idp: FakeIssuer) -> None:
    """§7: an IdP MUST NOT issue access tokens for an ID-JAG it issued itself."""
    from tests.protocol.test_id_jag_issuance import own_id_token

    add_partner(deputy)
    own = request_id_jag(deputy, own_id_token(deputy)).body["access_token"]
    refused(deputy, own, "assertion_own")
    # even one made to look as if it were for this server
    key_ring = deputy.store.keys.key_ring()
    forged = key_ring.sign({**claims_of(own), "aud": ISSUER, "client_id": AGENT[0]}, typ=ID_JAG_TYP, alg="RS256")
    refused(deputy, forged, "assertion_own")


def test_the_user_must_name_a_user(deputy: Deputy, idp: FakeIssuer) -> None:
    refused(deputy, mint_jag(idp, sub="nobody"), "subject_user_unknown")
    refused(deputy, mint_jag(idp, sub=AGENT[0], cid=AGENT[0]), "subject_not_user")


def test_confidential_clients_only(deputy: Deputy, idp: FakeIssuer) -> None:
    deputy.admin("test").create_agent(
        Agent("desk-spa", status=AgentStatus.ACTIVE, public_client=True, subject_groups=("it",)), with_secret=False
    )
    with pytest.raises(InvalidClient) as exc:
        deputy.token.handle(form({"grant_type": JWT_BEARER, "client_id": "desk-spa", "assertion": mint_jag(idp)}))
    assert exc.value.reason == "public_client_grant"
    with pytest.raises(InvalidClient):
        redeem(deputy, mint_jag(idp), auth=None)


def test_garbage_and_missing_assertions(deputy: Deputy, idp: FakeIssuer) -> None:
    refused(deputy, "not.a.jwt", "assertion_invalid")
    refused(deputy, "x" * 20000, "assertion_invalid")
    with pytest.raises(InvalidRequest) as exc:
        deputy.token.handle(form({"grant_type": JWT_BEARER}, AGENT))
    assert_refused(deputy, exc.value, "invalid_request", "missing_parameter")
    refused(deputy, mint_jag(idp), "requested_token_use_unsupported", InvalidRequest, "invalid_request",
            requested_token_use="impersonation")
