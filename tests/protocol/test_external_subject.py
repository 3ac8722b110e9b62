"""Token exchange with subject tokens from a trusted external issuer (no HTTP server: the real key
cache fetches through an in-process transport answered by a fake, independent issuer)."""

from __future__ import annotations

import json

import pytest

from deputy.clock import FixedClock
from deputy.constants import TOKEN_TYPE_ID_TOKEN, TOKEN_TYPE_JWT
from deputy.errors import InvalidRequest, OAuthError
from deputy.federation import IssuerKeyCache
from deputy.realm import User
from deputy.runtime import Deputy
from tests.conftest import AGENT, INCIDENTS, ISSUER, TRIAGE
from tests.fake_issuer import FakeIssuer, new_key
from tests.protocol.federation_support import AGENT_AUDIENCE, trust, use_key_cache
from tests.protocol.support import (
    add_agent,
    assert_refused,
    claims_of,
    events,
    exchange,
    hs256_jwt,
    introspect,
    unsigned_jwt,
)

IDP = "https://idp.example/tenant-1/v2.0"


@pytest.fixture
def idp(clock: FixedClock) -> FakeIssuer:
    return FakeIssuer(IDP, now=clock.now)


@pytest.fixture
def federated(deputy: Deputy, idp: FakeIssuer, clock: FixedClock) -> Deputy:
    use_key_cache(deputy, IssuerKeyCache(clock, refresh_interval=30, transport=idp.transport()))
    trust(deputy, idp)
    return deputy


def refused(deputy: Deputy, token: str, code: str, reason: str, **params: str) -> OAuthError:
    with pytest.raises(OAuthError) as exc:
        exchange(deputy, token, **params)
    assert_refused(deputy, exc.value, code, reason)
    return exc.value


# -- accepted ---------------------------------------------------------------------------------------

def test_external_token_for_jane(federated: Deputy, idp: FakeIssuer, clock: FixedClock) -> None:
    subject = idp.mint()
    response = exchange(federated, subject)
    assert response.status == 200
    body = response.body
    assert body["scope"] == "incidents:read incidents:write"  # jane's entitlements, as for her own token
    claims = claims_of(body["access_token"])
    assert claims["iss"] == ISSUER
    assert claims["sub"] == "jane"
    assert claims["client_id"] == "incident-agent"
    assert claims["aud"] == INCIDENTS
    # The chain starts with this agent: the external token has no Deputy lineage and no act.
    assert claims["act"] == {"sub": "incident-agent", "iss": ISSUER, "sub_profile": "ai_agent"}

    record = federated.store.tokens.get_token(claims["jti"])
    assert record is not None
    assert record.parent_jti is None
    assert record.actors == ("incident-agent",)
    assert record.subject == "jane"
    event = events(federated, "token.issued")[-1]
    assert event.jti == claims["jti"]
    assert event.subject == "jane"
    assert event.parent_jti is None
    assert event.actor_chain == ("incident-agent",)
    assert event.data == {
        "client_auth": "client_secret_basic", "actor_token": False,
        "subject_issuer": IDP, "subject_sub": "jane", "subject_jti": claims_of(subject)["jti"],
    }
    view = introspect(federated, body["access_token"])
    assert view["active"] is True and view["sub"] == "jane"


@pytest.mark.parametrize("token_type", [TOKEN_TYPE_ID_TOKEN, TOKEN_TYPE_JWT])
def test_id_tokens_and_jwts_are_accepted(federated: Deputy, idp: FakeIssuer, token_type: str) -> None:
    body = exchange(federated, idp.mint(), subject_token_type=token_type).body
    assert claims_of(body["access_token"])["sub"] == "jane"


def test_audience_in_a_list(federated: Deputy, idp: FakeIssuer) -> None:
    token = idp.mint(aud=["https://graph.example", AGENT_AUDIENCE])
    assert exchange(federated, token).status == 200


def test_the_issued_token_never_outlives_the_external_one(federated: Deputy, idp: FakeIssuer, clock: FixedClock) -> None:
    token = idp.mint(exp=clock.now() + 100)
    body = exchange(federated, token).body
    assert body["expires_in"] == 100
    assert claims_of(body["access_token"])["exp"] == clock.now() + 100


def test_rs256_issuer_and_another_user_claim(deputy: Deputy, clock: FixedClock) -> None:
    idp = FakeIssuer("https://login.example/realms/corp", alg="RS256", now=clock.now)
    use_key_cache(deputy, IssuerKeyCache(clock, transport=idp.transport()))
    trust(deputy, idp, by="jwks", user_claim="preferred_username", algorithms=("RS256",))
    token = idp.mint(sub="2f9c6a1e-0c4e-4c55-9d1d-5f8f4f0a1b2c", preferred_username="bob")
    body = exchange(deputy, token).body
    assert claims_of(body["access_token"])["sub"] == "bob"
    assert body["scope"] == "hr:read incidents:read"
    assert events(deputy, "token.issued")[-1].data["subject_sub"] == "2f9c6a1e-0c4e-4c55-9d1d-5f8f4f0a1b2c"


def test_within_clock_leeway(federated: Deputy, idp: FakeIssuer, clock: FixedClock) -> None:
    token = idp.mint(exp=clock.now() - 10, nbf=clock.now() + 10)
    assert exchange(federated, token).status == 200


def test_external_token_starts_a_chain(federated: Deputy, idp: FakeIssuer) -> None:
    hop1 = exchange(federated, idp.mint(), audience="triage-agent").body["access_token"]
    hop2 = exchange(federated, hop1, TRIAGE, resource=INCIDENTS).body["access_token"]
    claims = claims_of(hop2)
    assert claims["sub"] == "jane"
    assert claims["act"]["sub"] == "triage-agent" and claims["act"]["act"]["sub"] == "incident-agent"
    # Revoking the first exchanged token revokes what was exchanged from it.
    assert federated.admin("test").revoke_token(claims_of(hop1)["jti"]) == 2


def test_may_act_naming_this_agent(federated: Deputy, idp: FakeIssuer) -> None:
    assert exchange(federated, idp.mint(may_act={"sub": AGENT_AUDIENCE})).status == 200
    assert exchange(federated, idp.mint(may_act={"sub": "incident-agent", "iss": ISSUER})).status == 200
    claims = claims_of(exchange(federated, idp.mint(may_act={"sub": AGENT_AUDIENCE, "iss": IDP})).body["access_token"])
    assert "may_act" not in claims


# -- refused ----------------------------------------------------------------------------------------

def test_untrusted_issuer(federated: Deputy, clock: FixedClock) -> None:
    stranger = FakeIssuer("https://stranger.example", now=clock.now)
    event = assert_refused(federated, _refusal(federated, stranger.mint()), "invalid_request", "subject_token_invalid")
    assert event.data["subject_issuer"] == "https://stranger.example"
    assert "not trusted" in str(event.detail)


def test_issuer_no_longer_trusted(federated: Deputy, idp: FakeIssuer) -> None:
    token = idp.mint()
    assert exchange(federated, token).status == 200
    federated.admin("test").delete_issuer(IDP)
    refused(federated, token, "invalid_request", "subject_token_invalid")


def test_token_for_another_audience(federated: Deputy, idp: FakeIssuer) -> None:
    event = assert_refused(
        federated, _refusal(federated, idp.mint(aud="api://payroll")), "invalid_request", "subject_token_not_for_client"
    )
    assert event.data["subject_issuer"] == IDP and event.data["subject_sub"] == "jane"


def test_agent_without_audiences_at_that_issuer(federated: Deputy, idp: FakeIssuer) -> None:
    """triage-agent has no audience configured at the issuer: no token there is for it."""
    with pytest.raises(InvalidRequest) as exc:
        exchange(federated, idp.mint(aud="triage-agent"), TRIAGE)
    assert_refused(federated, exc.value, "invalid_request", "subject_token_not_for_client")


def test_another_agents_audience(federated: Deputy, idp: FakeIssuer) -> None:
    """An agent cannot exchange a token the issuer minted for a different agent (confused deputy)."""
    trust(federated, idp, agent_audiences=(("incident-agent", (AGENT_AUDIENCE,)), ("triage-agent", ("api://triage",))))
    with pytest.raises(InvalidRequest) as exc:
        exchange(federated, idp.mint(aud="api://triage"), AGENT)
    assert_refused(federated, exc.value, "invalid_request", "subject_token_not_for_client")
    assert exchange(federated, idp.mint(aud="api://triage"), TRIAGE).status == 200


def test_expired(federated: Deputy, idp: FakeIssuer, clock: FixedClock) -> None:
    event = assert_refused(
        federated, _refusal(federated, idp.mint(exp=clock.now() - 31)), "invalid_request", "subject_token_invalid"
    )
    assert "expired" in str(event.detail)


def test_not_yet_valid(federated: Deputy, idp: FakeIssuer, clock: FixedClock) -> None:
    refused(federated, idp.mint(nbf=clock.now() + 120), "invalid_request", "subject_token_invalid")


def test_without_exp(federated: Deputy, idp: FakeIssuer) -> None:
    refused(federated, idp.mint(exp=None), "invalid_request", "subject_token_invalid")


def test_alg_none(federated: Deputy, idp: FakeIssuer) -> None:
    token = unsigned_jwt({"alg": "none", "typ": "JWT", "kid": idp.signing.kid}, idp.claims())
    refused(federated, token, "invalid_request", "subject_token_invalid")


def test_hs256_with_the_public_key_as_secret(federated: Deputy, idp: FakeIssuer) -> None:
    public = idp.signing.as_pem(private=False)
    token = hs256_jwt({"alg": "HS256", "typ": "JWT", "kid": idp.signing.kid}, idp.claims(), public)
    refused(federated, token, "invalid_request", "subject_token_invalid")
    # ...or the public JWK's JSON as the secret
    as_json = json.dumps(idp.signing.as_dict(private=False)).encode()
    token = hs256_jwt({"alg": "HS256", "typ": "JWT", "kid": idp.signing.kid}, idp.claims(), as_json)
    refused(federated, token, "invalid_request", "subject_token_invalid")


def test_algorithm_outside_the_issuers_allow_list(federated: Deputy, idp: FakeIssuer) -> None:
    trust(federated, idp, algorithms=("RS256",))
    refused(federated, idp.mint(), "invalid_request", "subject_token_invalid")  # ES256


def test_signed_by_someone_else_under_the_issuers_kid(federated: Deputy, idp: FakeIssuer, clock: FixedClock) -> None:
    attacker = new_key("ES256", kid=str(idp.signing.kid))
    refused(federated, idp.mint(key=attacker), "invalid_request", "subject_token_invalid")


@pytest.mark.parametrize("typ", ["dpop+jwt", "secevent+jwt", "oauth-id-jag+jwt", "logout+jwt"])
def test_wrong_typ(federated: Deputy, idp: FakeIssuer, typ: str) -> None:
    refused(federated, idp.mint(typ=typ), "invalid_request", "subject_token_invalid")


def test_typ_must_be_one_the_issuer_accepts(federated: Deputy, idp: FakeIssuer) -> None:
    assert exchange(federated, idp.mint(typ="at+jwt")).status == 200
    assert exchange(federated, idp.mint(typ=None)).status == 200  # "" is accepted by default
    trust(federated, idp, token_types=("at+jwt",))
    refused(federated, idp.mint(typ=None), "invalid_request", "subject_token_invalid")
    refused(federated, idp.mint(typ="JWT"), "invalid_request", "subject_token_invalid")
    assert exchange(federated, idp.mint(typ="application/at+jwt")).status == 200


def test_issuer_claim_must_match_exactly(federated: Deputy, idp: FakeIssuer) -> None:
    """Signed by the trusted issuer's key, but claiming a different issuer: untrusted."""
    refused(federated, idp.mint(iss=IDP + "/"), "invalid_request", "subject_token_invalid")


def test_unknown_user_without_provisioning(federated: Deputy, idp: FakeIssuer) -> None:
    event = assert_refused(federated, _refusal(federated, idp.mint(sub="carol")), "invalid_request", "subject_user_unknown")
    assert event.data["subject_user"] == "carol"
    assert federated.store.realm.get_user("carol") is None


def test_missing_user_claim(federated: Deputy, idp: FakeIssuer) -> None:
    trust(federated, idp, user_claim="oid")
    refused(federated, idp.mint(), "invalid_request", "subject_token_invalid")


def test_disabled_user(federated: Deputy, idp: FakeIssuer) -> None:
    admin = federated.admin("test")
    jane = admin.store.realm.get_user("jane")
    assert jane is not None
    admin.put_user(User(jane.username, groups=jane.groups, disabled=True))
    refused(federated, idp.mint(), "invalid_request", "subject_user_unknown")


def test_user_the_agent_may_not_act_for(federated: Deputy, idp: FakeIssuer) -> None:
    federated.admin("test").put_user(User("dave", groups=("sales",)))
    refused(federated, idp.mint(sub="dave"), "invalid_request", "subject_not_delegated")


@pytest.mark.parametrize(
    "claims",
    [{"idtyp": "app"}, {"azp": "jane"}, {"client_id": "jane"}, {"appid": "jane"}, {"cid": "jane"}],
)
def test_an_applications_own_token(federated: Deputy, idp: FakeIssuer, claims: dict[str, str]) -> None:
    """Client-credentials tokens at the IdP name an application, not a user."""
    refused(federated, idp.mint(**claims), "invalid_request", "subject_not_user")


def test_external_act_cannot_be_erased_or_forged(federated: Deputy, idp: FakeIssuer) -> None:
    """A token that already records a chain at the IdP is refused: re-rooting it here would erase
    that history, and nesting it would vouch for actors Deputy cannot check."""
    for act in ({"sub": "some-other-agent"}, {"sub": "incident-agent", "iss": ISSUER}, "incident-agent"):
        refused(federated, idp.mint(act=act), "invalid_request", "subject_token_delegated")
    assert not events(federated, "token.issued")


@pytest.mark.parametrize(
    "may_act",
    [{"sub": "api://someone-else"}, {"sub": "incident-agent"}, {"sub": AGENT_AUDIENCE, "iss": "https://x.example"},
     {"sub": "triage-agent", "iss": ISSUER}, "incident-agent", {"iss": IDP}],
)
def test_may_act_naming_someone_else(federated: Deputy, idp: FakeIssuer, may_act: object) -> None:
    refused(federated, idp.mint(may_act=may_act), "invalid_request", "may_act_mismatch")


def test_impersonation_is_still_opt_in(federated: Deputy, idp: FakeIssuer) -> None:
    refused(federated, idp.mint(), "invalid_request", "impersonation_not_allowed", impersonate="true")


def test_unreachable_issuer(federated: Deputy, idp: FakeIssuer) -> None:
    idp.down = True
    error = refused(federated, idp.mint(), "invalid_request", "issuer_unavailable")
    assert error.status_code == 400
    event = events(federated, "token.refused")[-1]
    assert "HTTP 503" in str(event.detail)


def test_discovery_naming_another_issuer(federated: Deputy, idp: FakeIssuer) -> None:
    idp.discovery_issuer = "https://evil.example"
    event = assert_refused(federated, _refusal(federated, idp.mint()), "invalid_request", "issuer_unavailable")
    assert "RFC 8414" in str(event.detail)
    assert idp.jwks_fetches == 0  # the keys it points to are never fetched


def test_rotation_is_picked_up_at_the_rate_limit(federated: Deputy, idp: FakeIssuer, clock: FixedClock) -> None:
    assert exchange(federated, idp.mint()).status == 200
    assert idp.jwks_fetches == 1
    idp.rotate()
    rotated = idp.mint()
    # The cache fetched a moment ago: an unknown kid waits for the next allowed refresh.
    refused(federated, rotated, "invalid_request", "subject_token_invalid")
    assert idp.jwks_fetches == 1
    clock.advance(30)
    assert exchange(federated, rotated).status == 200
    assert idp.jwks_fetches == 2


def test_keys_are_cached(federated: Deputy, idp: FakeIssuer) -> None:
    for _ in range(5):
        assert exchange(federated, idp.mint()).status == 200
    assert (idp.discovery_fetches, idp.jwks_fetches) == (1, 1)


def test_agent_may_still_only_reach_its_resources(federated: Deputy, idp: FakeIssuer) -> None:
    client = add_agent(federated, "narrow-agent", {INCIDENTS: ("incidents:read",)})
    trust(federated, idp, agent_audiences=(("narrow-agent", ("api://narrow",)),))
    body = exchange(federated, idp.mint(aud="api://narrow"), client).body
    assert body["scope"] == "incidents:read"
    with pytest.raises(OAuthError) as exc:
        exchange(federated, idp.mint(aud="api://narrow"), client, audience="triage-agent", resource=[])
    assert_refused(federated, exc.value, "invalid_target", "target_not_allowed")


# -- provisioning -----------------------------------------------------------------------------------

@pytest.fixture
def provisioning(federated: Deputy, idp: FakeIssuer) -> Deputy:
    trust(federated, idp, provision=True, groups_claim="groups", group_map=(("ext-it", "it"), ("ext-hr", "hr")))
    return federated


def test_provisioning_creates_the_user_with_mapped_groups(provisioning: Deputy, idp: FakeIssuer) -> None:
    token = idp.mint(sub="carol", groups=["ext-it", "ext-marketing"], email="carol@corp.example", name="Carol C")
    body = exchange(provisioning, token).body
    carol = provisioning.store.realm.get_user("carol")
    assert carol == User("carol", "Carol C", "carol@corp.example", ("it",))
    # the entitlements of the mapped group apply
    assert body["scope"] == "incidents:read incidents:write"
    assert claims_of(body["access_token"])["sub"] == "carol"
    provisioned = events(provisioning, "user.provisioned")
    assert len(provisioned) == 1
    assert provisioned[0].subject == "carol"
    assert provisioned[0].client_id == "incident-agent"
    assert provisioned[0].data == {"issuer": IDP, "user_claim": "sub", "subject_sub": "carol", "groups": ["it"]}
    # seen again: no second provisioning, groups are not re-synced from the token
    exchange(provisioning, idp.mint(sub="carol", groups=["ext-hr"]))
    assert len(events(provisioning, "user.provisioned")) == 1
    assert provisioning.store.realm.get_user("carol") == carol


def test_provisioning_without_mapped_groups(provisioning: Deputy, idp: FakeIssuer) -> None:
    """The user is created, but with no group incident-agent may act for nobody is delegated."""
    refused(provisioning, idp.mint(sub="erin", groups="ext-finance"), "invalid_request", "subject_not_delegated")
    assert provisioning.store.realm.get_user("erin") == User("erin")


def test_provisioning_refuses_names_that_cannot_be_usernames(provisioning: Deputy, idp: FakeIssuer) -> None:
    refused(provisioning, idp.mint(sub="-not a name-"), "invalid_request", "subject_user_unknown")
    assert not events(provisioning, "user.provisioned")


def test_provisioning_happens_only_for_a_valid_token(provisioning: Deputy, idp: FakeIssuer) -> None:
    refused(provisioning, idp.mint(sub="mallory", aud="api://other"), "invalid_request", "subject_token_not_for_client")
    assert provisioning.store.realm.get_user("mallory") is None


def _refusal(deputy: Deputy, token: str) -> OAuthError:
    with pytest.raises(OAuthError) as exc:
        exchange(deputy, token)
    return exc.value
