"""Entra-style on-behalf-of: the jwt-bearer grant with requested_token_use=on_behalf_of (SPECS.md §2).

The result must be exactly the delegated token a token exchange would issue; the request and the
response speak Entra's dialect; a bad assertion is invalid_grant, never invalid_request (pitfall 9).
"""

from __future__ import annotations

from dataclasses import replace
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
from deputy.federation import IssuerKeyCache
from deputy.protocol.token_endpoint import TokenEndpoint
from deputy.realm import AgentStatus
from deputy.runtime import Deputy
from tests.conftest import AGENT, INCIDENTS, TRIAGE
from tests.fake_issuer import FakeIssuer
from tests.helpers import form
from tests.protocol.dialect_support import JWT_BEARER, JWT_BEARER_UNDERSCORE, obo
from tests.protocol.federation_support import AGENT_AUDIENCE, trust, use_key_cache
from tests.protocol.sign_in_support import sign_in_tokens
from tests.protocol.support import (
    add_agent,
    assert_refused,
    assertion_params,
    base_claims,
    claims_of,
    client_assertion,
    events,
    exchange,
    forge_own_token,
    hs256_jwt,
    is_active,
    new_client_key,
    register_key,
    unsigned_jwt,
    user_token,
)

ENTRA_KEYS = {"token_type", "scope", "expires_in", "ext_expires_in", "access_token"}
TIME_CLAIMS = {"jti", "iat", "nbf", "exp"}


def refused(deputy: Deputy, error_type: type[OAuthError], code: str, reason: str, *args: Any, **kwargs: Any) -> Any:
    with pytest.raises(error_type) as exc:
        obo(deputy, *args, **kwargs)
    return assert_refused(deputy, exc.value, code, reason)


# -- the delegated token, in Entra's shape -------------------------------------------------------

def test_default_scope_gives_the_token_the_exchange_gives(deputy: Deputy) -> None:
    subject = user_token(deputy)
    r = obo(deputy, subject, "https://incidents.example/.default")
    assert r.status == 200
    assert set(r.body) == ENTRA_KEYS  # no refresh_token, no id_token, no issued_token_type
    assert r.body["token_type"] == "Bearer"
    assert r.body["scope"] == "https://incidents.example/incidents:read https://incidents.example/incidents:write"
    assert r.body["expires_in"] == r.body["ext_expires_in"] == 300

    te = exchange(deputy, subject, resource=INCIDENTS)
    obo_claims, te_claims = claims_of(r.body["access_token"]), claims_of(te.body["access_token"])
    assert {k: v for k, v in obo_claims.items() if k not in TIME_CLAIMS} == {
        k: v for k, v in te_claims.items() if k not in TIME_CLAIMS
    }
    assert obo_claims["sub"] == "jane" and obo_claims["aud"] == INCIDENTS and obo_claims["client_id"] == AGENT[0]
    assert obo_claims["act"] == {"sub": AGENT[0], "iss": deputy.settings.issuer, "sub_profile": "ai_agent"}
    assert obo_claims["scope"] == "incidents:read incidents:write"


def test_lineage_and_audit(deputy: Deputy) -> None:
    subject = user_token(deputy)
    parent = claims_of(subject)["jti"]
    r = obo(deputy, subject, "https://incidents.example/incidents:read")
    jti = claims_of(r.body["access_token"])["jti"]
    record = deputy.store.tokens.get_token(jti)
    assert record is not None
    assert (record.parent_jti, record.mode, record.grant_type, record.actors) == (
        parent, "delegation", JWT_BEARER, (AGENT[0],),
    )
    issued = events(deputy, "token.issued")[-1]
    assert issued.grant_type == JWT_BEARER and issued.parent_jti == parent and issued.jti == jti
    assert issued.data["dialect"] == "entra_obo" and issued.data["requested_token_use"] == "on_behalf_of"
    assert issued.scope_requested == ("incidents:read",) and issued.scope_granted == ("incidents:read",)
    # revoking the assertion cascades to what was obtained on its behalf
    deputy.admin("test").revoke_token(parent)
    assert not is_active(deputy, r.body["access_token"])


def test_named_scopes_are_narrowed_and_echoed_prefixed(deputy: Deputy) -> None:
    r = obo(deputy, user_token(deputy), "https://incidents.example/incidents:read https://incidents.example/hr:read")
    assert r.body["scope"] == "https://incidents.example/incidents:read"  # jane is in "it": no hr:read
    assert claims_of(r.body["access_token"])["scope"] == "incidents:read"


def test_msal_reserved_scopes_are_ignored(deputy: Deputy) -> None:
    r = obo(deputy, user_token(deputy), "openid profile offline_access https://incidents.example/incidents:read")
    assert set(r.body) == ENTRA_KEYS and r.body["scope"] == "https://incidents.example/incidents:read"
    assert events(deputy, "token.issued")[-1].data["scope_ignored"] == ["offline_access", "openid", "profile"]


def test_resource_parameter_with_bare_scopes(deputy: Deputy) -> None:
    r = obo(deputy, user_token(deputy), "incidents:write", resource=INCIDENTS)
    assert r.body["scope"] == "incidents:write"
    r = obo(deputy, user_token(deputy), None, resource=INCIDENTS)
    assert r.body["scope"] == "incidents:read incidents:write"


def test_resource_named_by_plain_identifier(deputy: Deputy) -> None:
    """A resource registered by name (an agent receiving delegated tokens) works the same way."""
    r = obo(deputy, user_token(deputy), "triage-agent/.default")
    assert r.body["scope"] == "triage-agent/incidents:read"
    assert claims_of(r.body["access_token"])["aud"] == "triage-agent"


def test_underscore_dialect_is_accepted(deputy: Deputy) -> None:
    r = obo(deputy, user_token(deputy), grant_type=JWT_BEARER_UNDERSCORE)
    assert r.status == 200 and set(r.body) == ENTRA_KEYS
    issued = events(deputy, "token.issued")[-1]
    assert issued.grant_type == JWT_BEARER  # emitted in the normative spelling only
    assert issued.data["grant_type_sent"] == JWT_BEARER_UNDERSCORE
    assert JWT_BEARER_UNDERSCORE not in deputy.token.grants.grant_types
    assert JWT_BEARER in deputy.token.grants.grant_types


def test_client_authentication_by_post_secret_and_by_private_key_jwt(deputy: Deputy, clock: FixedClock) -> None:
    subject = user_token(deputy)
    r = deputy.token.handle(form({
        "grant_type": JWT_BEARER, "client_id": AGENT[0], "client_secret": AGENT[1], "assertion": subject,
        "requested_token_use": "on_behalf_of", "scope": "https://incidents.example/.default",
    }))
    assert r.status == 200
    key = new_client_key("cert-1")
    register_key(deputy, AGENT[0], key)
    assertion = client_assertion(key, AGENT[0], deputy.settings.token_endpoint, clock.now())
    r = deputy.token.handle(form({
        "grant_type": JWT_BEARER, "assertion": subject, "requested_token_use": "on_behalf_of",
        "scope": "https://incidents.example/incidents:read", **assertion_params(assertion),
    }))
    assert r.status == 200
    assert events(deputy, "token.issued")[-1].data["client_auth"] == "private_key_jwt"


def test_a_delegated_token_only_shrinks(deputy: Deputy) -> None:
    """An agent in a chain uses OBO with the token it received: its scopes bound the result."""
    hop = exchange(deputy, user_token(deputy), audience="triage-agent").body["access_token"]  # incidents:read
    r = obo(deputy, hop, "https://incidents.example/.default", auth=TRIAGE)
    assert r.body["scope"] == "https://incidents.example/incidents:read"
    claims = claims_of(r.body["access_token"])
    assert [claims["act"]["sub"], claims["act"]["act"]["sub"]] == ["triage-agent", "incident-agent"]


def test_an_external_assertion_from_a_trusted_issuer(deputy: Deputy, clock: FixedClock) -> None:
    idp = FakeIssuer("https://login.example.com/tenant/v2.0", now=clock.now)
    use_key_cache(deputy, IssuerKeyCache(deputy.store.clock, transport=idp.transport()))
    trust(deputy, idp)
    r = obo(deputy, idp.mint(), "https://incidents.example/.default")
    assert r.status == 200
    assert claims_of(r.body["access_token"])["sub"] == "jane"
    issued = events(deputy, "token.issued")[-1]
    assert issued.parent_jti is None and issued.data["subject_issuer"] == idp.issuer
    # Entra: an access token for another application is refused
    with pytest.raises(InvalidGrant) as exc:
        obo(deputy, idp.mint(aud="api://payroll"))
    assert_refused(deputy, exc.value, "invalid_grant", "subject_token_not_for_client")
    assert AGENT_AUDIENCE  # the audience incident-agent has there


# -- refusals: the assertion (invalid_grant) ---------------------------------------------------

def test_an_assertion_for_another_app_is_invalid_grant(deputy: Deputy) -> None:
    for_triage = user_token(deputy, client_id="triage-agent")
    refused(deputy, InvalidGrant, "invalid_grant", "subject_token_not_for_client", for_triage)


def test_bad_assertions_are_invalid_grant(deputy: Deputy, clock: FixedClock) -> None:
    now = clock.now()
    expired = forge_own_token(deputy, base_claims(deputy, aud=AGENT[0], exp=now - 1, iat=now - 600, nbf=now - 600), mode="user")
    cases = {
        "expired": expired,
        "garbage": "not-a-jwt",
        "alg none": unsigned_jwt({"alg": "none", "typ": "at+jwt"}, base_claims(deputy, aud=AGENT[0])),
        "HS256": hs256_jwt({"alg": "HS256", "typ": "at+jwt"}, base_claims(deputy, aud=AGENT[0]), b"secret"),
        "an ID token": sign_in_tokens(deputy)["id_token"],
        "unrecorded": forge_own_token(deputy, base_claims(deputy, aud=AGENT[0]), mode=None),
    }
    for name, token in cases.items():
        with pytest.raises(InvalidGrant) as exc:
            obo(deputy, token)
        assert exc.value.reason == "subject_token_invalid", name
        assert_refused(deputy, exc.value, "invalid_grant", "subject_token_invalid")


def test_revoked_assertion(deputy: Deputy) -> None:
    subject = user_token(deputy)
    deputy.admin("test").revoke_token(claims_of(subject)["jti"])
    refused(deputy, InvalidGrant, "invalid_grant", "subject_token_revoked", subject)


def test_an_agents_own_token_names_no_user(deputy: Deputy) -> None:
    add_agent(deputy, "bot", {INCIDENTS: ("incidents:read",)})
    cc = forge_own_token(deputy, base_claims(deputy, sub="bot", client_id="bot", aud=AGENT[0]), mode="client")
    refused(deputy, InvalidGrant, "invalid_grant", "subject_not_user", cc)


def test_the_decision_refuses_as_invalid_grant(deputy: Deputy) -> None:
    admin = deputy.admin("test")
    agent = admin.get_agent(AGENT[0])
    admin.update_agent(replace(agent, subject_groups=("hr",)))  # jane is in "it"
    refused(deputy, InvalidGrant, "invalid_grant", "subject_not_delegated", user_token(deputy))


# -- refusals: everything else keeps its own error ---------------------------------------------

def test_request_shape(deputy: Deputy) -> None:
    subject = user_token(deputy)
    with pytest.raises(InvalidRequest) as exc:
        deputy.token.handle(form({"grant_type": JWT_BEARER, "requested_token_use": "on_behalf_of"}, AGENT))
    assert_refused(deputy, exc.value, "invalid_request", "missing_parameter")
    refused(deputy, InvalidRequest, "invalid_request", "requested_token_use_unsupported", subject,
            requested_token_use="exchange")
    refused(deputy, InvalidRequest, "invalid_request", "target_missing", subject, "openid offline_access")
    refused(deputy, InvalidTarget, "invalid_target", "target_multiple", subject,
            "https://incidents.example/incidents:read triage-agent/incidents:read")
    refused(deputy, InvalidTarget, "invalid_target", "target_unknown", subject, "https://graph.microsoft.com/.default")
    refused(deputy, InvalidScope, "invalid_scope", "scope_invalid", subject,
            "https://incidents.example/.default https://incidents.example/incidents:read")
    refused(deputy, InvalidScope, "invalid_scope", "scope_empty", subject, "https://incidents.example/hr:read")
    refused(deputy, InvalidTarget, "invalid_target", "target_not_allowed", user_token(deputy, client_id="triage-agent"),
            "triage-agent/.default", auth=TRIAGE)


def test_chain_depth_limit_is_invalid_request(deputy: Deputy) -> None:
    """draft-mcguinness-oauth-actor-profile: an over-long chain is invalid_request in every dialect."""
    hop = exchange(deputy, user_token(deputy), audience="triage-agent").body["access_token"]
    deputy.context = replace(deputy.context, settings=replace(deputy.settings, max_chain_depth=1))
    deputy.token = TokenEndpoint(deputy.context, deputy.token.grants, deputy.token.authenticator)
    refused(deputy, InvalidRequest, "invalid_request", "chain_too_deep", hop, auth=TRIAGE)


def test_client_must_authenticate_and_be_active(deputy: Deputy) -> None:
    subject = user_token(deputy)
    with pytest.raises(InvalidClient):
        obo(deputy, subject, auth=None)
    with pytest.raises(InvalidClient):
        obo(deputy, subject, auth=(AGENT[0], "wrong-secret-0123456789"))
    deputy.admin("test").set_agent_status(AGENT[0], AgentStatus.SUSPENDED)
    with pytest.raises(OAuthError) as exc:
        obo(deputy, subject)
    assert exc.value.error == "unauthorized_client"


def test_refusals_never_record_a_token(deputy: Deputy) -> None:
    before = len(events(deputy, "token.issued"))
    with pytest.raises(InvalidGrant):
        obo(deputy, user_token(deputy, client_id="triage-agent"))
    assert len(events(deputy, "token.issued")) == before + 1  # only the user token minted above
    last = events(deputy, "token.refused")[-1]
    assert last.grant_type == JWT_BEARER and last.data["dialect"] == "entra_obo"


def test_a_scope_parameter_cannot_cause_unbounded_lookups(deputy: Deputy) -> None:
    subject = user_token(deputy)
    many = " ".join(f"https://incidents.example/s{i}" for i in range(51))
    refused(deputy, InvalidScope, "invalid_scope", "scope_invalid", subject, many)
    lookups: list[str] = []
    realm = deputy.store.realm
    original = realm.get_resource

    def counting(identifier: str) -> Any:
        lookups.append(identifier)
        return original(identifier)

    realm.get_resource = counting  # type: ignore[method-assign]
    try:
        slashes = "https://incidents.example/" + "/".join(["x"] * 200)
        refused(deputy, InvalidTarget, "invalid_target", "target_unknown", subject, slashes)
    finally:
        realm.get_resource = original  # type: ignore[method-assign]
    assert len(lookups) <= 10
